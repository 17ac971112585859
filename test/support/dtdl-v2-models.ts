/**
 * Test support (not a test): hand-written DTDL v2 models in the style of the ontologies teams migrate from
 * Azure Digital Twins (RealEstateCore buildings, smart cities, energy grid): built-in semantic types with
 * units, Maps written with DTMI member names, Relationships with `target` and properties, `extends` chains
 * across documents (two bases at most), localized displayName/description maps, writable Properties,
 * Commands with CommandPayload request/response, an Enum in `schemas`, a Component, geospatial and Array
 * schemas in Telemetry (allowed in v2 outside Properties).
 */

const ctx = 'dtmi:dtdl:context;2';

export const V2 = {
  asset: 'dtmi:example:v2:Asset;1',
  space: 'dtmi:example:v2:Space;1',
  building: 'dtmi:example:v2:Building;1',
  room: 'dtmi:example:v2:Room;1',
  conferenceRoom: 'dtmi:example:v2:ConferenceRoom;1',
  weather: 'dtmi:example:v2:WeatherStation;1',
  meter: 'dtmi:example:v2:EnergyMeter;1',
  streetLight: 'dtmi:example:v2:StreetLight;1',
} as const;

/** Common to every twin: a name, free tags (REC writes the Map with DTMI member names), a location. */
export const asset = {
  '@id': V2.asset,
  '@type': 'Interface',
  displayName: { en: 'Asset', sv: 'Tillgång', de: 'Anlage' },
  description: { en: 'Something with an owner and a place.', sv: 'Något med en ägare och en plats.' },
  contents: [
    { '@type': 'Property', name: 'name', schema: 'string', writable: true },
    {
      '@type': 'Property',
      name: 'customTags',
      displayName: { en: 'Custom tags' },
      writable: true,
      'dtmi:dtdl:property:schema;2': {
        '@type': 'Map',
        'dtmi:dtdl:property:mapKey;2': { name: 'tagName', schema: 'string' },
        'dtmi:dtdl:property:mapValue;2': { name: 'tagValue', schema: 'string' },
      },
    },
    {
      '@type': 'Relationship',
      name: 'locatedIn',
      displayName: { en: 'located in', sv: 'finns i' },
      target: V2.space,
      maxMultiplicity: 1,
      properties: [
        { '@type': 'Property', name: 'since', schema: 'dateTime' },
        { '@type': 'Property', name: 'confidence', schema: 'double' },
      ],
    },
    { '@type': 'Relationship', name: 'servedBy' },
  ],
  '@context': ctx,
};

export const space = {
  '@context': ctx,
  '@id': V2.space,
  '@type': 'Interface',
  displayName: { en: 'Space', fr: 'Espace' },
  description: 'A part of the physical world that can hold other spaces.',
  schemas: [
    {
      '@id': 'dtmi:example:v2:Space:OccupancyState;1',
      '@type': 'Enum',
      valueSchema: 'string',
      enumValues: [
        { name: 'vacant', displayName: { en: 'Vacant', fr: 'Libre' }, enumValue: 'vacant' },
        { name: 'occupied', enumValue: 'occupied' },
        { name: 'unknown', enumValue: 'unknown' },
      ],
    },
  ],
  contents: [
    { '@type': ['Property', 'Area'], name: 'area', schema: 'double', unit: 'squareMetre', writable: true },
    { '@type': ['Telemetry', 'Temperature'], name: 'temperature', schema: 'double', unit: 'degreeCelsius' },
    {
      '@type': ['Telemetry', 'dtmi:standard:class:RelativeHumidity;2'],
      name: 'humidity',
      schema: 'float',
      'dtmi:dtdl:property:unit;2': 'percent',
    },
    { '@type': 'Property', name: 'occupancy', schema: 'dtmi:example:v2:Space:OccupancyState;1' },
    { '@type': 'Relationship', name: 'hasPart', target: V2.space },
    { '@type': 'Relationship', name: 'isPartOf', target: V2.space, maxMultiplicity: 1 },
  ],
};

export const weatherStation = {
  '@context': ctx,
  '@id': V2.weather,
  '@type': 'Interface',
  displayName: 'Weather station',
  contents: [
    { '@type': ['Telemetry', 'Velocity'], name: 'windSpeed', schema: 'double', unit: 'metrePerSecond' },
    { '@type': 'Telemetry', name: 'position', schema: 'point' },
    {
      '@type': ['Property', 'Pressure'],
      name: 'pressureAlarm',
      schema: 'double',
      unit: 'kilopascal',
      writable: true,
    },
    {
      '@type': 'Command',
      name: 'recalibrate',
      commandType: 'synchronous',
      request: { name: 'delaySeconds', schema: 'integer', displayName: 'Delay' },
      response: {
        '@type': 'CommandPayload',
        name: 'result',
        schema: {
          '@type': 'Object',
          fields: [
            { name: 'ok', schema: 'boolean' },
            { name: 'offsets', schema: { '@type': 'Array', elementSchema: 'double' } },
          ],
        },
      },
    },
  ],
};

export const building = {
  '@context': ctx,
  '@id': V2.building,
  '@type': 'Interface',
  extends: V2.space,
  displayName: { en: 'Building', sv: 'Byggnad' },
  contents: [
    { '@type': 'Component', name: 'weather', schema: V2.weather },
    { '@type': ['Property', 'Length'], name: 'height', schema: 'double', unit: 'metre', writable: true },
  ],
};

export const room = {
  '@context': ctx,
  '@id': V2.room,
  '@type': 'Interface',
  extends: [V2.space],
  displayName: { en: 'Room', de: 'Raum' },
  contents: [
    {
      '@type': ['Property', 'Temperature'],
      name: 'temperatureSetpoint',
      schema: 'double',
      unit: 'degreeCelsius',
      writable: true,
    },
  ],
};

/** Extends Room (which extends Space) and Asset: a chain across documents with two bases. */
export const conferenceRoom = {
  '@context': ctx,
  '@id': V2.conferenceRoom,
  '@type': 'Interface',
  extends: [V2.room, V2.asset],
  contents: [
    { '@type': 'Property', name: 'seats', schema: 'integer', writable: true },
    {
      '@type': 'Property',
      name: 'equipment',
      schema: {
        '@type': 'Object',
        fields: [
          { name: 'projector', schema: 'boolean' },
          { name: 'screenInches', schema: 'integer' },
        ],
      },
    },
  ],
};

/** Energy-grid style metering. */
export const energyMeter = {
  '@context': ctx,
  '@id': V2.meter,
  '@type': 'Interface',
  extends: V2.asset,
  contents: [
    { '@type': ['Telemetry', 'Energy'], name: 'energy', schema: 'double', unit: 'kilowattHour' },
    { '@type': ['Telemetry', 'Power'], name: 'power', schema: 'double', unit: 'kilowatt' },
    { '@type': ['Telemetry', 'Voltage'], name: 'voltage', schema: 'double', unit: 'volt' },
    { '@type': ['Property', 'Current'], name: 'ratedCurrent', schema: 'double', unit: 'ampere' },
  ],
};

/** Smart-city street light: an Array in Telemetry (fine in v2), a Property with an Object. */
export const streetLight = {
  '@context': ctx,
  '@id': V2.streetLight,
  '@type': 'Interface',
  extends: V2.asset,
  contents: [
    {
      '@type': ['Property', 'Illuminance'],
      name: 'targetLux',
      schema: 'double',
      unit: 'lux',
      writable: true,
    },
    { '@type': 'Telemetry', name: 'lampHours', schema: { '@type': 'Array', elementSchema: 'double' } },
    {
      '@type': 'Property',
      name: 'schedule',
      writable: true,
      schema: {
        '@type': 'Object',
        fields: [
          { name: 'on', schema: 'time' },
          { name: 'off', schema: 'time' },
        ],
      },
    },
  ],
};

/** Every fixture, in an order where bases come first (the parser does not need it; ADT uploads do not either). */
export const V2_MODELS = [
  asset,
  space,
  weatherStation,
  building,
  room,
  conferenceRoom,
  energyMeter,
  streetLight,
];
