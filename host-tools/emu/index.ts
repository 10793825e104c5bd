// The Espruino emulator: the firmware bundle on Node, bound to the bike simulator.
//   VirtualClock        clock.ts    virtual time for devices, simulator and network
//   EmuNetwork          network.ts  access points, outages, HTTP (real loopback or a handler)
//   EmuFlash            flash.ts    (helper F1) Storage semantics on a NOR image, power cuts
//   EmulatedDevice      device.ts   one board: power, context per power-on, uncaught exceptions
//                       modules/    its Espruino modules and globals, one file each
//   createEmulatedBike  bike.ts     bundle + device + simulated bike, power cuts with brown-out
//   serveConsole, attachConsole, runRealtime   serve.ts   console over TCP/streams, real time
//   loadBoard, checkBoard, listBoards          boards.ts  boards/*.json against schema.json
export { VirtualClock, type TimeFollower } from './clock';
export { EmuNetwork, type EmuHttpHandler, type EmuHttpRequest, type EmuHttpResponse } from './network';
export { EmuFlash, PowerCutError } from './flash';
export { EmulatedDevice, DeviceExitError, isPowerCut, type EmulatedDeviceOptions, type StopReason, type UncaughtException } from './device';
export { createEmulatedBike, DEFAULT_BUNDLE, type EmulatedBike, type EmulatedBikeOptions, type BikeSettings } from './bike';
export { serveConsole, attachConsole, runRealtime } from './serve';
export { loadBoard, checkBoard, listBoards } from './boards';
export { EspruinoConsole, bracketDepth, formatValue } from './console';
