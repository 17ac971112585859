/**
 * DTDL v2's built-in semantic types (DTDL.Specification.v2.md, "Semantic types"): each type term, the unit
 * type it is expressed in and the units allowed for it. In v2 these belong to the language itself (no
 * extension context), as terms ("Temperature", "degreeCelsius") or DTMIs ("dtmi:standard:class:Temperature;2",
 * "dtmi:standard:unit:degreeCelsius;2"). The lists differ from the v3 quantitativeTypes extension (fewer
 * types and units), so they are kept apart from quantitative-types.ts.
 */

const ANGLE = 'degreeOfArc minuteOfArc radian secondOfArc turn';
const LENGTH =
  'astronomicalUnit centimetre foot inch kilometre metre micrometre mile millimetre nanometre nauticalMile';
const POWER = 'gigawatt horsepower kilowatt kilowattHourPerYear megawatt microwatt milliwatt watt';
const FORCE = 'newton ounce pound ton';
const DENSITY = 'gramPerCubicMetre kilogramPerCubicMetre';
const BINARY = (suffix: string): string =>
  ['bit', 'byte', 'exbibit', 'exbibyte', 'gibibit', 'gibibyte', 'kibibit', 'kibibyte', 'mebibit', 'mebibyte']
    .concat(['tebibit', 'tebibyte', 'yobibit', 'yobibyte', 'zebibit', 'zebibyte'])
    .map((u) => u + suffix)
    .join(' ');

/** Semantic type -> [unit type, units]. */
const TABLE: Readonly<Record<string, readonly [string, string]>> = {
  Acceleration: ['AccelerationUnit', 'centimetrePerSecondSquared gForce metrePerSecondSquared'],
  Angle: ['AngleUnit', ANGLE],
  AngularAcceleration: ['AngularAccelerationUnit', 'radianPerSecondSquared'],
  AngularVelocity: [
    'AngularVelocityUnit',
    'degreePerSecond radianPerSecond revolutionPerMinute revolutionPerSecond',
  ],
  Area: [
    'AreaUnit',
    'acre hectare squareCentimetre squareFoot squareInch squareKilometre squareMetre squareMillimetre',
  ],
  Capacitance: ['CapacitanceUnit', 'farad microfarad millifarad nanofarad picofarad'],
  Current: ['CurrentUnit', 'ampere microampere milliampere'],
  DataRate: ['DataRateUnit', BINARY('PerSecond')],
  DataSize: ['DataSizeUnit', BINARY('')],
  Density: ['DensityUnit', DENSITY],
  Distance: ['LengthUnit', LENGTH],
  ElectricCharge: ['ChargeUnit', 'coulomb'],
  Energy: ['EnergyUnit', 'electronvolt gigajoule joule kilojoule kilowattHour megaelectronvolt megajoule'],
  Force: ['ForceUnit', FORCE],
  Frequency: ['FrequencyUnit', 'gigahertz hertz kilohertz megahertz'],
  Humidity: ['DensityUnit', DENSITY],
  Illuminance: ['IlluminanceUnit', 'footcandle lux'],
  Inductance: ['InductanceUnit', 'henry microhenry millihenry'],
  Latitude: ['AngleUnit', ANGLE],
  Length: ['LengthUnit', LENGTH],
  Longitude: ['AngleUnit', ANGLE],
  Luminance: ['LuminanceUnit', 'candelaPerSquareMetre'],
  Luminosity: ['PowerUnit', POWER],
  LuminousFlux: ['LuminousFluxUnit', 'lumen'],
  LuminousIntensity: ['LuminousIntensityUnit', 'candela'],
  MagneticFlux: ['MagneticFluxUnit', 'maxwell weber'],
  MagneticInduction: ['MagneticInductionUnit', 'tesla'],
  Mass: ['MassUnit', 'gram kilogram microgram milligram slug tonne'],
  MassFlowRate: ['MassFlowRateUnit', 'gramPerHour gramPerSecond kilogramPerHour kilogramPerSecond'],
  Power: ['PowerUnit', POWER],
  Pressure: [
    'PressureUnit',
    'bar inchesOfMercury inchesOfWater kilopascal millibar millimetresOfMercury pascal poundPerSquareInch',
  ],
  RelativeHumidity: ['Unitless', 'percent unity'],
  Resistance: ['ResistanceUnit', 'kiloohm megaohm milliohm ohm'],
  SoundPressure: ['SoundPressureUnit', 'bel decibel'],
  Temperature: ['TemperatureUnit', 'degreeCelsius degreeFahrenheit kelvin'],
  Thrust: ['ForceUnit', FORCE],
  TimeSpan: ['TimeUnit', 'day hour microsecond millisecond minute nanosecond second year'],
  Torque: ['TorqueUnit', 'newtonMetre'],
  Velocity: [
    'VelocityUnit',
    'centimetrePerSecond kilometrePerHour kilometrePerSecond knot metrePerHour metrePerSecond milePerHour milePerSecond',
  ],
  Voltage: ['VoltageUnit', 'kilovolt megavolt microvolt millivolt volt'],
  Volume: ['VolumeUnit', 'cubicCentimetre cubicFoot cubicInch cubicMetre fluidOunce gallon litre millilitre'],
  VolumeFlowRate: ['VolumeFlowRateUnit', 'litrePerHour litrePerSecond millilitrePerHour millilitrePerSecond'],
};

/** Semantic type term -> its units (terms). */
export const SEMANTIC_UNITS_V2: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.entries(TABLE).map(([t, [, units]]) => [t, new Set(units.split(' '))]),
);

/** Every unit type named in the table. */
export const UNIT_TYPES_V2: ReadonlySet<string> = new Set(Object.values(TABLE).map(([ut]) => ut));

/** Every unit of the table. */
export const UNITS_V2: ReadonlySet<string> = new Set([...SEMANTIC_UNITS_V2.values()].flatMap((s) => [...s]));

const TYPE_DTMI_PREFIX = 'dtmi:standard:class:';
const UNIT_DTMI_PREFIX = 'dtmi:standard:unit:';

function termOf(s: string, prefix: string): { term: string; viaDtmi: boolean } {
  return s.startsWith(prefix) && s.endsWith(';2')
    ? { term: s.slice(prefix.length, -2), viaDtmi: true }
    : { term: s, viaDtmi: false };
}

/** Reads a v2 semantic type ("Temperature" or "dtmi:standard:class:Temperature;2"), or undefined. */
export function semanticTypeV2(s: string): { term: string; viaDtmi: boolean } | undefined {
  const r = termOf(s, TYPE_DTMI_PREFIX);
  return SEMANTIC_UNITS_V2.has(r.term) ? r : undefined;
}

/** Reads a v2 unit ("degreeCelsius" or "dtmi:standard:unit:degreeCelsius;2"), or undefined. */
export function unitV2(s: string): { term: string; viaDtmi: boolean } | undefined {
  const r = termOf(s, UNIT_DTMI_PREFIX);
  return UNITS_V2.has(r.term) ? r : undefined;
}

/** True when `unit` (a term) is in the same row of the v2 table as `semanticType` (a term). */
export function isUnitOfV2(semanticType: string, unit: string): boolean {
  return SEMANTIC_UNITS_V2.get(semanticType)?.has(unit) ?? false;
}
