// Every wire number of the VESC ecosystem that DEEP uses, in one place (the VESC firmware
// keeps them in datatypes.h). Sources: protocol/BUS.md §2, §3;
// vedderb/bldc datatypes.h (COMM_PACKET_ID, CAN_PACKET_ID, mc_fault_code, HW_TYPE).
// Plain objects of numbers: no TypeScript `enum` (its ES5 output is larger and builds
// reverse maps the device does not need).

/** COMM_PACKET_ID: first byte of every UART payload (bldc datatypes.h). */
export var COMM = {
  FW_VERSION: 0,
  GET_VALUES: 4,
  SET_DUTY: 5,
  SET_CURRENT: 6,
  SET_CURRENT_BRAKE: 7,
  SET_RPM: 8,
  ALIVE: 30,
  FORWARD_CAN: 34,
  GET_VALUES_SETUP: 47,
  GET_VALUES_SELECTIVE: 50,
  GET_VALUES_SETUP_SELECTIVE: 51,
  PING_CAN: 62,
  GET_IMU_DATA: 65,
  BMS_GET_VALUES: 96,
  BMS_FWD_CAN_RX: 113,
  FW_INFO: 157,
};

/** CAN_PACKET_ID: bits 15..8 of the 29-bit extended id (bldc datatypes.h). */
export var CAN_PACKET = {
  SET_DUTY: 0,
  SET_CURRENT: 1,
  SET_CURRENT_BRAKE: 2,
  SET_RPM: 3,
  SET_POS: 4,
  FILL_RX_BUFFER: 5,
  FILL_RX_BUFFER_LONG: 6,
  PROCESS_RX_BUFFER: 7,
  PROCESS_SHORT_BUFFER: 8,
  STATUS: 9,
  STATUS_2: 14,
  STATUS_3: 15,
  STATUS_4: 16,
  PING: 17,
  PONG: 18,
  STATUS_5: 27,
  BMS_V_TOT: 38,
  BMS_I: 39,
  BMS_AH_WH: 40,
  BMS_V_CELL: 41,
  BMS_BAL: 42,
  BMS_TEMPS: 43,
  BMS_HUM: 44,
  BMS_SOC_SOH_TEMP_STAT: 45,
  BMS_AH_WH_CHG_TOTAL: 53,
  BMS_AH_WH_DIS_TOTAL: 54,
  STATUS_6: 58,
};

/**
 * The `commands_send` byte of PROCESS_RX_BUFFER / PROCESS_SHORT_BUFFER
 * (bldc comm/comm_can.c, CAN_PACKET_PROCESS_RX_BUFFER case).
 */
export var CAN_SEND = {
  /** Process the command and send the reply back to the sender. */
  PROCESS_AND_REPLY: 0,
  /** This buffer is a reply: hand it to whoever asked last. */
  REPLY: 1,
  /** Process the command, send no reply. */
  PROCESS_NO_REPLY: 2,
  /** Process and reply, but the reply is consumed by the receiver itself. */
  PROCESS_REPLY_LOCAL: 3,
};

/** HW_TYPE in the FW_VERSION reply and in CAN PONG (bldc datatypes.h). */
export var HW_TYPE = { VESC: 0, VESC_BMS: 1, CUSTOM_MODULE: 2 };

/** mc_fault_code, the fault byte of GET_VALUES (bldc datatypes.h), index = code. */
export var FAULT_NAMES = [
  'NONE', 'OVER_VOLTAGE', 'UNDER_VOLTAGE', 'DRV', 'ABS_OVER_CURRENT', 'OVER_TEMP_FET',
  'OVER_TEMP_MOTOR', 'GATE_DRIVER_OVER_VOLTAGE', 'GATE_DRIVER_UNDER_VOLTAGE',
  'MCU_UNDER_VOLTAGE', 'BOOTING_FROM_WATCHDOG_RESET', 'ENCODER_SPI',
  'ENCODER_SINCOS_BELOW_MIN_AMPLITUDE', 'ENCODER_SINCOS_ABOVE_MAX_AMPLITUDE',
  'FLASH_CORRUPTION', 'HIGH_OFFSET_CURRENT_SENSOR_1', 'HIGH_OFFSET_CURRENT_SENSOR_2',
  'HIGH_OFFSET_CURRENT_SENSOR_3', 'UNBALANCED_CURRENTS', 'BRK', 'RESOLVER_LOT',
  'RESOLVER_DOS', 'RESOLVER_LOS', 'FLASH_CORRUPTION_APP_CFG', 'FLASH_CORRUPTION_MC_CFG',
  'ENCODER_NO_MAGNET', 'ENCODER_MAGNET_TOO_STRONG', 'PHASE_FILTER', 'ENCODER_FAULT',
  'LV_OUTPUT_FAULT', 'ENCODER_SLIP', 'OVERSPEED', 'UNDERSPEED', 'ABS_OVERSPEED',
];

/** Why a decoder refused its input (WireError.code). */
export var WIRE_ERR = {
  /** The input ended inside a field. */
  TRUNCATED: 'TRUNCATED',
  /** Bytes left over after the last field of a fixed layout. */
  TRAILING_BYTES: 'TRAILING_BYTES',
  /** The first byte (command) or the CAN packet id is not the one this decoder reads. */
  WRONG_TYPE: 'WRONG_TYPE',
  /** A field holds a value outside its defined range (NaN float, count too large, ...). */
  BAD_VALUE: 'BAD_VALUE',
  /** A length field exceeds the buffer it describes. */
  TOO_LONG: 'TOO_LONG',
  /** A checksum did not match. */
  BAD_CRC: 'BAD_CRC',
  /** A multi-frame CAN buffer ended with bytes never received. */
  MISSING_FRAMES: 'MISSING_FRAMES',
};
