import { expect } from 'chai';
import type { QuantReport } from '../../src/report/compare.js';
import { fitLine, targetFits } from '../../src/report/fit.js';
import type { SchemeSizes, TargetVerdict } from '../../src/report/sizes.js';

const KiB = 1024;

function verdict(
  target: string,
  memory: string,
  capacity: number | null,
  needed: number,
  state: TargetVerdict['state'] = null,
): TargetVerdict {
  const fits = capacity === null || needed <= capacity;
  return { target, memory, memoryKind: 'x', capacity, needed, includesState: state === null, fits, spare: null, verdict: '', state };
}

function sizes(host: number, flash: number, sram: number): SchemeSizes {
  return {
    weightBytes: 0,
    blobBytes: 0,
    targets: [
      verdict('host', 'ram', null, host),
      verdict('board', 'flash', 2048 * KiB, flash, { memory: 'sram', needed: sram, capacity: 256 * KiB, fits: sram <= 256 * KiB }),
    ],
  };
}

function report(): QuantReport {
  const scheme = (name: string, s: SchemeSizes) => ({ scheme: name, sizes: s }) as unknown as QuantReport['schemes'][number];
  return {
    reference: { sizes: sizes(1700 * KiB, 1000 * KiB, 660 * KiB) },
    schemes: [scheme('q8_0', sizes(950 * KiB, 280 * KiB, 250 * KiB)), scheme('q4_0', sizes(840 * KiB, 180 * KiB, 662 * KiB))],
  } as unknown as QuantReport;
}

describe('report/fit', () => {
  it('folds every scheme into one verdict per target', () => {
    const fits = targetFits(report());
    expect(fits.map((f) => f.target)).to.deep.equal(['host', 'board']);
    expect(fits[0]).to.include({ limits: 'no fixed limit', fitting: 'all fit (ram 840.0 KiB to 1.7 MiB)', failing: '' });
    expect(fitLine(fits[0])).to.equal('all fit (ram 840.0 KiB to 1.7 MiB)');
  });

  it('a scheme fits only when every memory holds it: the run state in SRAM binds before the flash', () => {
    const board = targetFits(report())[1];
    expect(board.limits).to.equal('flash 2.0 MiB, sram 256.0 KiB');
    expect(board.schemes.map((s) => [s.scheme, s.fits])).to.deep.equal([
      ['f32', false],
      ['q8_0', true],
      ['q4_0', false],
    ]);
    expect(board.fitting).to.equal('q8_0 fits (flash 280.0 KiB, sram 250.0 KiB)');
    // only the memory that overflows is named
    expect(board.failing).to.equal('f32, q4_0 do not (sram needs 660.0 KiB to 662.0 KiB)');
    expect(fitLine(board)).to.equal(`${board.fitting}; ${board.failing}`);
  });

  it('none fit', () => {
    const r = report();
    const tight = (s: SchemeSizes): SchemeSizes => ({
      ...s,
      targets: [s.targets[0], { ...s.targets[1], needed: 4096 * KiB, fits: false }],
    });
    r.reference.sizes = tight(r.reference.sizes);
    r.schemes = r.schemes.map((x) => ({ ...x, sizes: tight(x.sizes) }));
    const board = targetFits(r)[1];
    expect(board.fitting).to.equal('');
    expect(board.failing).to.equal('none fit (flash needs 4.0 MiB, sram needs 660.0 KiB to 662.0 KiB)');
  });
});
