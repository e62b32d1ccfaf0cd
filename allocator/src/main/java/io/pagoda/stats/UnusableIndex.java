package io.pagoda.stats;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.buddy.Node;
import io.pagoda.buddy.Zone;

import java.util.Locale;

/**
 * The unusable free space index (the kernel's debugfs {@code extfrag/unusable_index}): for each
 * order j, the share of free memory that lies in blocks smaller than 2^j frames, so that a
 * request of order j cannot use it. 0 means every free frame could serve order j; 1 means none.
 *
 * <pre>
 * index(j) = (free frames - sum over orders i &gt;= j of blocks(i) * 2^i) / free frames
 * </pre>
 */
public final class UnusableIndex {

    private UnusableIndex() {
    }

    /** The index of order {@code order} over free block counts per order; 0 when nothing is free. */
    public static double of(long[] freeBlocksPerOrder, int order) {
        long free = 0;
        long usable = 0;
        for (int i = 0; i < freeBlocksPerOrder.length; i++) {
            long frames = freeBlocksPerOrder[i] << i;
            free += frames;
            if (i >= order) {
                usable += frames;
            }
        }
        return free == 0 ? 0 : (double) (free - usable) / free;
    }

    /** The index of {@code order} over every zone of {@code buddy} together. */
    public static double of(BuddySystem buddy, int order) {
        return of(ZoneTotals.freeBlocksPerOrder(buddy), order);
    }

    /** The report, one line per zone, in the kernel's format: {@code "Node 0, zone   Normal 0.000 0.012 ..."}. */
    public static String format(BuddySystem buddy) {
        StringBuilder report = new StringBuilder();
        for (Node node : buddy.nodes()) {
            for (Zone zone : node.zones()) {
                long[] blocks = zone.freeBlocksPerOrder();
                report.append(String.format(Locale.ROOT, "Node %d, zone %8s ", node.id(), zone.name()));
                for (int order = 0; order < blocks.length; order++) {
                    report.append(String.format(Locale.ROOT, "%.3f ", of(blocks, order)));
                }
                report.append('\n');
            }
        }
        return report.toString();
    }
}
