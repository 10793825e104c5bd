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

test('each board states its Espruino build: the Linux build has no Wifi module and cannot reboot', () => {
  const esp = loadBoard('esp32-devkitc').espruino;
  const linux = loadBoard('espruino-linux').espruino;
  assert.is(esp.build, 'ESP32');
  assert.is(linux.build, 'ESP32LIKE_LINUX');
  for (const m of ['Storage', 'crypto', 'http', 'net', 'tls', 'fs', 'TelnetServer']) {
    assert.ok(esp.modules.includes(m), `ESP32 has ${m}`);
    assert.ok(linux.modules.includes(m), `Linux has ${m}`);
  }
  assert.ok(esp.modules.includes('Wifi'));
  assert.not.ok(linux.modules.includes('Wifi'));
  // ESP32 is a global object on the ESP32 build, not a module: require("ESP32") fails there.
  assert.not.ok(esp.modules.includes('ESP32'));
  assert.is(esp.reboot, true);
  assert.is(linux.reboot, false);
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
  assert.match(bad((b) => { delete b.espruino; }), /missing "espruino"/);
  assert.match(bad((b) => { b.espruino.modules.push('Storage'); }), /\$\.espruino\.modules: "Storage" is listed twice/);
  assert.match(bad((b) => { b.espruino.modules.push('no such'); }), /\$\.espruino\.modules\[\d+\]/);
  assert.match(bad((b) => { b.espruino.reboot = 'yes'; }), /\$\.espruino\.reboot: expected boolean/);
});

test.run();
