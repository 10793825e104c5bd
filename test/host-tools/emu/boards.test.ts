import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBoard, listBoards, loadBoard } from '../../../host-tools/emu/boards';

test('every board file is valid against boards/schema.json', () => {
  const names = listBoards();
  assert.ok(names.includes('esp32-devkitc') && names.includes('espruino-linux'));
  for (const n of names) loadBoard(n);
});

test('esp32-devkitc wires the VESC to UART2 and the MCP2515 with its crystal', () => {
  const b = loadBoard('esp32-devkitc');
  assert.is(b.vesc.uart, 'Serial2');
  assert.is(b.can.via, 'mcp2515');
  if (b.can.via === 'mcp2515') assert.is(b.can.crystalHz, 8000000);
});

test('bad boards are rejected with the path of each problem', () => {
  const good = loadBoard('esp32-devkitc');
  const bad = (patch: (b: any) => void): string => {
    const b = JSON.parse(JSON.stringify(good));
    patch(b);
    try { checkBoard(b, 'esp32-devkitc'); } catch (e) { return String(e); }
    return 'accepted';
  };
  assert.match(bad((b) => { b.vesc.tx = 'D99'; }), /\$\.vesc\.tx/);
  assert.match(bad((b) => { b.can.crystalHz = 12000000; }), /crystalHz|none of the allowed/);
  assert.match(bad((b) => { b.can.cs = 'D4'; }), /pin D4 is used twice/);
  assert.match(bad((b) => { delete b.vesc.rx; }), /vesc/);
  assert.match(bad((b) => { b.extra = 1; }), /unknown field "extra"/);
  assert.match(bad((b) => { b.bms.ids = [10, 10]; }), /both BMS on CAN id 10/);
  assert.match(bad((b) => { b.name = 'other'; }), /differs from the file name/);
});

test.run();
