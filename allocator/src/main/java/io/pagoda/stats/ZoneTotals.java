package io.pagoda.stats;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.buddy.Node;
import io.pagoda.buddy.Watermarks;
import io.pagoda.buddy.Zone;

/**
 * Figures of every zone of a buddy system, added up: the allocator as a whole, as its MXBean shows
 * it (the text reports show each zone). Read from the same zone counters as {@link ZoneInfo} and
 * {@link BuddyInfo}, each under its zone's lock; zones are read one after another, so a total
 * taken while threads allocate mixes moments, as /proc does.
 */
public final class ZoneTotals {

    private ZoneTotals() {
    }

    /** Free blocks of each order over all zones: {@code result[order]}, untouched frames as the blocks they will be. */
    public static long[] freeBlocksPerOrder(BuddySystem buddy) {
        long[] total = new long[buddy.maxOrder() + 1];
        for (Node node : buddy.nodes()) {
            for (Zone zone : node.zones()) {
                long[] blocks = zone.freeBlocksPerOrder();
                for (int order = 0; order < blocks.length; order++) {
                    total[order] += blocks[order];
                }
            }
        }
        return total;
    }

    /** The zones' watermarks added up, in frames. */
    public static Watermarks watermarks(BuddySystem buddy) {
        long min = 0;
        long low = 0;
        long high = 0;
        for (Node node : buddy.nodes()) {
            for (Zone zone : node.zones()) {
                Watermarks marks = zone.watermarks();
                min += marks.min();
                low += marks.low();
                high += marks.high();
            }
        }
        return new Watermarks(min, low, high);
    }

    /** Every zone's counters added up. */
    public static Zone.Counters counters(BuddySystem buddy) {
        Zone.Counters total = new Zone.Counters(0, 0, 0, 0, 0, 0, 0);
        for (Node node : buddy.nodes()) {
            for (Zone zone : node.zones()) {
                Zone.Counters c = zone.counters();
                total = new Zone.Counters(total.allocations() + c.allocations(), total.frees() + c.frees(),
                        total.fallbacks() + c.fallbacks(), total.pageblocksClaimed() + c.pageblocksClaimed(),
                        total.minWatermarkRefusals() + c.minWatermarkRefusals(), total.purgedFrames() + c.purgedFrames(),
                        total.reservedPageblocks() + c.reservedPageblocks());
            }
        }
        return total;
    }

    /** Free frames of each node: {@code result[node]}. */
    public static long[] freeFramesPerNode(BuddySystem buddy) {
        long[] free = new long[buddy.nodeCount()];
        for (Node node : buddy.nodes()) {
            for (Zone zone : node.zones()) {
                free[node.id()] += zone.freeFrames();
            }
        }
        return free;
    }
}
