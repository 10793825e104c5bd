// The web app served by the ingest node under /app/: one page per hash route.
//   #/             start: what is where
//   #/pair         pair a bike over Web Serial (pair.ts)
//   #/bikes        my bikes (ids remembered in this browser), #/bike/ID one bike (bike.ts)
//   #/operator     node health, devices, lag (behind the admin token) (operator.ts)
//   #/grid         the mini-grid of `npm start` (grid.ts)
import { h, put, errorBox } from './dom';
import { bikePage, bikesPage } from './bike';
import { pairPage } from './pair';
import { operatorPage } from './operator';
import { gridPage } from './grid';

/** A page draws into `root`; the function it returns stops its timers when the page is left. */
export type Page = (root: HTMLElement, arg: string) => (() => void) | void;

function homePage(root: HTMLElement): void {
  put(root,
    h('h1', null, 'DEEP: your e-bike energy, signed by the bike'),
    h('div', { class: 'cards' },
      h('section', { class: 'card' }, h('h2', null, h('a', { href: '#/pair' }, 'Pair a bike')), h('p', null, 'Once, over USB, from Chrome or Edge: WiFi, this node as endpoint, and the bike’s signed proof.')),
      h('section', { class: 'card' }, h('h2', null, h('a', { href: '#/bikes' }, 'My bike')), h('p', null, 'Energy per flow and per pack, money at the interval prices, the chain’s health and each report’s proof.')),
      h('section', { class: 'card' }, h('h2', null, h('a', { href: '#/grid' }, 'Mini-grid')), h('p', null, 'The day’s prices, the hubs’ energy to and from the grid, each rider’s balance.')),
      h('section', { class: 'card' }, h('h2', null, h('a', { href: '#/operator' }, 'Operator')), h('p', null, 'Node health, reports accepted and rejected, devices and gaps, lag. Needs the admin token.')),
    ));
}

const ROUTES: Record<string, Page> = {
  '': homePage,
  bikes: bikesPage,
  bike: bikePage,
  pair: pairPage,
  operator: operatorPage,
  grid: gridPage,
};

let leave: (() => void) | void;

function route(): void {
  const root = document.getElementById('app')!;
  if (leave) leave();
  leave = undefined;
  const [, name = '', arg = ''] = /^#\/?([^/]*)\/?(.*)$/.exec(location.hash) ?? [];
  const page = ROUTES[name];
  if (!page) {
    put(root, errorBox(`no page "${name}"`), h('p', null, h('a', { href: '#/' }, 'Start')));
    return;
  }
  leave = page(root, decodeURIComponent(arg));
}

window.addEventListener('hashchange', route);
route();
