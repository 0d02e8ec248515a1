/**
 * Time for rp2040js's DMA (its peripherals/dma.js models the RP2040's 12 channels, their
 * registers, chaining, interrupts, the DREQ and pacing-timer handshakes, and the transfers
 * themselves), which otherwise moves a whole block in no time: every transfer runs in the same
 * instant as the one before it. The RP2040 datasheet (2.5.1) gives the DMA one read and one write
 * of up to 32 bits per clk_sys cycle, pipelined; so here each transfer of a channel comes one
 * cycle after the one before it (the first one cycle after its trigger or its DREQ), and a read
 * of an XIP address that misses the cache (the harness's XIP model) delays that channel's next
 * transfer by the flash transfer, instead of stalling the core as rp2040js's shared read path
 * would have it.
 *
 * DREQ pacing stays rp2040js's: a channel whose TREQ_SEL names a DREQ transfers while that DREQ
 * is asserted (the peripheral's FIFO holds data or has room) and waits for it otherwise; the
 * pacing timers (TREQ 59..62) and the permanent request (63) as rp2040js has them.
 *
 * Not modelled: bus contention between the DMA and the cores (a transfer to an SRAM bank the core
 * uses in the same cycle costs one of them a cycle on silicon), the round-robin between channels
 * active in the same cycle (each channel here moves one transfer a cycle), and the flash stall of
 * a channel's last read from XIP (it completes without it).
 */
import type { RP2040 } from 'rp2040js';

/** TREQ_SEL 0x3f: no pacing, a transfer as fast as the DMA goes. */
const TREQ_PERMANENT = 63;

/** What the pacing reads of rp2040js's channels (private in its typings, plain properties in its code). */
interface ChannelInternals {
  treqValue: number;
  transferAlarm: { schedule(deltaNanos: number): void; callback: () => void };
  scheduleTransfer(): void;
}

/** Counts of the paced DMA: transfers made, and the cycles channels waited for flash reads through XIP. */
export interface DmaPacingStats {
  transfers: number;
  xipStallCycles: number;
}

/**
 * Paces every channel of `mcu`'s DMA as above. `takeXipStall`: the stall cycles the XIP cache
 * model has accumulated since last asked (the reads of the transfer just made), if the harness
 * models it.
 */
export function paceDma(mcu: RP2040, takeXipStall?: () => number): DmaPacingStats {
  const dma = mcu.dma;
  const stats: DmaPacingStats = { transfers: 0, xipStallCycles: 0 };
  for (const channel of dma.channels) {
    const c = channel as unknown as ChannelInternals;
    const alarm = c.transferAlarm;
    const transfer = alarm.callback;
    let inTransfer = false;
    alarm.callback = () => {
      inTransfer = true;
      try {
        transfer();
        stats.transfers++;
        // the channel's last read (no next transfer to delay): its stall is the DMA's, not the core's
        if (takeXipStall) stats.xipStallCycles += takeXipStall();
      } finally {
        inTransfer = false;
      }
    };
    c.scheduleTransfer = () => {
      const treq = c.treqValue;
      const nanosPerCycle = 1e9 / mcu.clkSys;
      // only the reads of a transfer belong to the DMA: a trigger from the core leaves the core's stall alone
      const stall = inTransfer && takeXipStall ? takeXipStall() : 0;
      stats.xipStallCycles += stall;
      if (dma.dreq[treq] || treq === TREQ_PERMANENT) alarm.schedule((1 + stall) * nanosPerCycle);
      else {
        const micros = dma.getTimer(treq);
        if (micros) alarm.schedule(micros * 1000);
      }
    };
  }
  return stats;
}
