// The board description the bundle is built for (boards/NAME.json, checked against
// boards/schema.json). rollup.config.js resolves `virtual:board` to that JSON; the
// declaration below gives it its type. Pins are names ("D17"); the HAL turns them into
// Espruino pins, drivers never see them.

export type Board = DeepBoard;
export type BoardVesc = DeepBoardVesc;
export type BoardCanMcp2515 = DeepBoardCanMcp2515;
export type BoardCanVesc = DeepBoardCanVesc;
