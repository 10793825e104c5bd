// http(s) URLs on the device, parsed by hand. Espruino's RegExp cannot be trusted with this:
// measured in 2v29 (firmware/README.md) it has no {m,n} quantifier (a SyntaxError when the
// function first runs), its lexer ends a regex literal at a "/" inside a character class,
// and /^(https?):\/\/([^\/:]+)(:(\d+))?(\/.*)?$/ matches nothing. Only single-character
// indexOf is used: 2v29's String#indexOf misreports some absent multi-character needles.

export interface HttpUrl {
  protocol: 'http:' | 'https:';
  host: string;
  port: number;
  /** Starts with "/"; "/" when the URL has none. */
  path: string;
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (var i = 0; i < s.length; i++) {
    var c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function hasSpace(s: string): boolean {
  for (var i = 0; i < s.length; i++) if (s.charCodeAt(i) <= 32) return true;
  return false;
}

/** http://host[:port][/path] or https://..., or undefined when `url` is not one. */
export function parseHttpUrl(url: string): HttpUrl | undefined {
  if (typeof url !== 'string' || hasSpace(url)) return undefined;
  var protocol: 'http:' | 'https:';
  var rest: string;
  if (url.substr(0, 7) === 'http://') { protocol = 'http:'; rest = url.substr(7); }
  else if (url.substr(0, 8) === 'https://') { protocol = 'https:'; rest = url.substr(8); }
  else return undefined;
  var slash = rest.indexOf('/');
  var authority = slash < 0 ? rest : rest.substr(0, slash);
  var path = slash < 0 ? '/' : rest.substr(slash);
  var colon = authority.indexOf(':');
  var host = colon < 0 ? authority : authority.substr(0, colon);
  var portText = colon < 0 ? '' : authority.substr(colon + 1);
  if (host.length === 0) return undefined;
  var port = protocol === 'https:' ? 443 : 80;
  if (colon >= 0) {
    if (!isDigits(portText) || portText.length > 5) return undefined;
    port = parseInt(portText, 10);
    if (port < 1 || port > 65535) return undefined;
  }
  return { protocol: protocol, host: host, port: port, path: path };
}
