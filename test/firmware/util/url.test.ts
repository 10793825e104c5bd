import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseHttpUrl } from '../../../firmware/util/url';

test('http(s) URLs: host, port (default by scheme), path', () => {
  assert.equal(parseHttpUrl('http://127.0.0.1:35157'), { protocol: 'http:', host: '127.0.0.1', port: 35157, path: '/' });
  assert.equal(parseHttpUrl('https://ledger.example.org/v1/reports'), { protocol: 'https:', host: 'ledger.example.org', port: 443, path: '/v1/reports' });
  assert.equal(parseHttpUrl('http://h/x:y/z'), { protocol: 'http:', host: 'h', port: 80, path: '/x:y/z' });
});

test('anything else is refused, as the RegExp it replaces refused it', () => {
  for (const bad of ['', 'ftp://h', 'http://', 'http://:80', 'http://h:', 'http://h:x', 'http://h:123456', 'http://h:0', 'http://h:70000',
    'http://a b', 'http://h/ x', 'HTTP://h', 'http:/h', 'h:80']) {
    assert.is(parseHttpUrl(bad), undefined, bad);
  }
  const re = /^https?:\/\/[^\s/:]+(:\d{1,5})?(\/[^\s]*)?$/;
  for (const u of ['http://h', 'https://h:1/', 'http://h:99999', 'http://h/p?q=1', 'https://h.example:8080/a/b']) {
    assert.is(parseHttpUrl(u) !== undefined, re.test(u) && (!/:(\d+)/.test(u.slice(8)) || Number(/:(\d+)/.exec(u.slice(8))![1]) <= 65535), u);
  }
});

test.run();
