/**
 * The quantitativeTypes extension (`dtmi:dtdl:extension:quantitativeTypes;1`): its semantic types, the unit
 * type each requires, and the units of each unit type. Data transcribed from DTDL.quantitativeTypes.v1.md.
 */

export const QUANTITATIVE_TYPES_CONTEXT = 'dtmi:dtdl:extension:quantitativeTypes;1';

/** Unit type -> its units. */
export const UNIT_TYPES: Readonly<Record<string, readonly string[]>> = {
  AccelerationUnit: 'centimetrePerSecondSquared gForce metrePerSecondSquared'.split(' '),
  AngleUnit: 'degreeOfArc minuteOfArc radian secondOfArc turn'.split(' '),
  AngularAccelerationUnit: 'radianPerSecondSquared'.split(' '),
  AngularVelocityUnit: 'degreePerSecond radianPerSecond revolutionPerMinute revolutionPerSecond'.split(' '),
  ApparentEnergyUnit: 'gigavoltAmpereHour kilovoltAmpereHour megavoltAmpereHour voltAmpereHour'.split(' '),
  ApparentPowerUnit: 'gigavoltAmpere kilovoltAmpere megavoltAmpere millivoltAmpere voltAmpere'.split(' '),
  AreaUnit:
    'acre hectare squareCentimetre squareFoot squareInch squareKilometre squareMetre squareMillimetre'.split(
      ' ',
    ),
  CapacitanceUnit: 'farad microfarad millifarad nanofarad picofarad'.split(' '),
  Unitless: 'partsPerBillion partsPerMillion partsPerQuadrillion partsPerTrillion percent unity'.split(' '),
  CurrentUnit: 'ampere kiloampere microampere milliampere'.split(' '),
  DataRateUnit:
    'bitPerSecond bytePerSecond exbibitPerSecond exbibytePerSecond gibibitPerSecond gibibytePerSecond kibibitPerSecond kibibytePerSecond mebibitPerSecond mebibytePerSecond tebibitPerSecond tebibytePerSecond yobibitPerSecond yobibytePerSecond zebibitPerSecond zebibytePerSecond'.split(
      ' ',
    ),
  DataSizeUnit:
    'bit byte exbibit exbibyte gibibit gibibyte kibibit kibibyte mebibit mebibyte tebibit tebibyte yobibit yobibyte zebibit zebibyte'.split(
      ' ',
    ),
  DensityUnit: 'gramPerCubicMetre kilogramPerCubicMetre microgramPerCubicMetre milligramPerCubicMetre'.split(
    ' ',
  ),
  LengthUnit:
    'astronomicalUnit centimetre foot inch kilometre metre micrometre mile millimetre nanometre nauticalMile'.split(
      ' ',
    ),
  ChargeUnit: 'ampereHour coulomb milliampereHour'.split(' '),
  EnergyUnit:
    'britishThermalUnit electronvolt gigajoule gigawattHour joule kiloBritishThermalUnit kilojoule kilowattHour megaelectronvolt megajoule megawattHour milliwattHour terawattHour wattHour'.split(
      ' ',
    ),
  PowerUnit:
    'britishThermalUnitPerHour gigajoulePerHour gigawatt horsepower joulePerHour joulePerSecond kiloBritishThermalUnitPerHour kilojoulePerHour kilojoulePerSecond kilowatt kilowattHourPerYear megajoulePerHour megawatt microwatt milliwatt tonOfRefrigeration watt'.split(
      ' ',
    ),
  ForceUnit: 'newton ounce pound ton'.split(' '),
  FrequencyUnit: 'gigahertz hertz kilohertz megahertz millihertz'.split(' '),
  IlluminanceUnit: 'footcandle lux'.split(' '),
  InductanceUnit: 'henry microhenry millihenry'.split(' '),
  IonizingRadiationDoseUnit: 'gray microgray microsievert milligray millisievert sievert'.split(' '),
  IrradianceUnit: 'wattPerSquareMetre'.split(' '),
  LuminanceUnit: 'candelaPerSquareMetre'.split(' '),
  LuminousFluxUnit: 'lumen'.split(' '),
  LuminousIntensityUnit: 'candela'.split(' '),
  MagneticFluxUnit: 'maxwell weber'.split(' '),
  MagneticInductionUnit: 'gauss tesla'.split(' '),
  MassUnit: 'gram kilogram massPound microgram milligram slug tonne'.split(' '),
  MassFlowRateUnit: 'gramPerHour gramPerSecond kilogramPerHour kilogramPerSecond massPoundPerHour'.split(' '),
  PressureUnit:
    'bar decapascal hectopascal inchesOfMercury inchesOfWater kilopascal millibar millimetresOfMercury pascal poundPerSquareInch'.split(
      ' ',
    ),
  RadioactivityUnit: 'becquerel gigabecquerel kilobecquerel megabecquerel'.split(' '),
  ReactiveEnergyUnit:
    'gigavoltAmpereReactiveHour kilovoltAmpereReactiveHour megavoltAmpereReactiveHour voltAmpereReactiveHour'.split(
      ' ',
    ),
  ReactivePowerUnit:
    'gigavoltAmpereReactive kilovoltAmpereReactive megavoltAmpereReactive millivoltAmpereReactive voltAmpereReactive'.split(
      ' ',
    ),
  ResistanceUnit: 'kiloohm megaohm milliohm ohm'.split(' '),
  SoundPressureUnit: 'bel decibel'.split(' '),
  TemperatureUnit: 'degreeCelsius degreeFahrenheit kelvin'.split(' '),
  TimeUnit: 'day hour microsecond millisecond minute nanosecond second year'.split(' '),
  TorqueUnit: 'newtonMetre'.split(' '),
  VelocityUnit:
    'centimetrePerSecond kilometrePerHour kilometrePerSecond knot metrePerHour metrePerSecond milePerHour milePerSecond'.split(
      ' ',
    ),
  VoltageUnit: 'kilovolt megavolt microvolt millivolt volt'.split(' '),
  VolumeUnit: 'cubicCentimetre cubicFoot cubicInch cubicMetre fluidOunce gallon litre millilitre'.split(' '),
  VolumeFlowRateUnit:
    'cubicFootPerMinute cubicMetrePerHour cubicMetrePerMinute cubicMetrePerSecond gallonPerHour gallonPerMinute litrePerHour litrePerMinute litrePerSecond millilitrePerHour millilitrePerMinute millilitrePerSecond'.split(
      ' ',
    ),
};

/** Semantic type -> the unit type its `unit` must come from. */
export const SEMANTIC_TYPES: Readonly<Record<string, string>> = {
  Acceleration: 'AccelerationUnit',
  Angle: 'AngleUnit',
  AngularAcceleration: 'AngularAccelerationUnit',
  AngularVelocity: 'AngularVelocityUnit',
  ApparentEnergy: 'ApparentEnergyUnit',
  ApparentPower: 'ApparentPowerUnit',
  Area: 'AreaUnit',
  Capacitance: 'CapacitanceUnit',
  Concentration: 'Unitless',
  Current: 'CurrentUnit',
  DataRate: 'DataRateUnit',
  DataSize: 'DataSizeUnit',
  Density: 'DensityUnit',
  Distance: 'LengthUnit',
  ElectricCharge: 'ChargeUnit',
  Energy: 'EnergyUnit',
  EnergyRate: 'PowerUnit',
  Force: 'ForceUnit',
  Frequency: 'FrequencyUnit',
  Humidity: 'DensityUnit',
  Illuminance: 'IlluminanceUnit',
  Inductance: 'InductanceUnit',
  IonizingRadiationDose: 'IonizingRadiationDoseUnit',
  Irradiance: 'IrradianceUnit',
  Latitude: 'AngleUnit',
  Length: 'LengthUnit',
  Longitude: 'AngleUnit',
  Luminance: 'LuminanceUnit',
  Luminosity: 'PowerUnit',
  LuminousFlux: 'LuminousFluxUnit',
  LuminousIntensity: 'LuminousIntensityUnit',
  MagneticFlux: 'MagneticFluxUnit',
  MagneticInduction: 'MagneticInductionUnit',
  Mass: 'MassUnit',
  MassFlowRate: 'MassFlowRateUnit',
  Power: 'PowerUnit',
  Pressure: 'PressureUnit',
  Radioactivity: 'RadioactivityUnit',
  ReactiveEnergy: 'ReactiveEnergyUnit',
  ReactivePower: 'ReactivePowerUnit',
  RelativeDensity: 'Unitless',
  RelativeHumidity: 'Unitless',
  Resistance: 'ResistanceUnit',
  SoundPressure: 'SoundPressureUnit',
  Temperature: 'TemperatureUnit',
  Thrust: 'ForceUnit',
  TimeSpan: 'TimeUnit',
  Torque: 'TorqueUnit',
  Velocity: 'VelocityUnit',
  Voltage: 'VoltageUnit',
  Volume: 'VolumeUnit',
  VolumeFlowRate: 'VolumeFlowRateUnit',
};

/** True when `s` is a semantic type of the extension. */
export function isSemanticType(s: string): boolean {
  return Object.prototype.hasOwnProperty.call(SEMANTIC_TYPES, s);
}

/** True when `unit` is a valid unit for the semantic type. */
export function isUnitOf(semanticType: string, unit: string): boolean {
  const ut = SEMANTIC_TYPES[semanticType];
  return ut !== undefined && (UNIT_TYPES[ut] ?? []).includes(unit);
}
