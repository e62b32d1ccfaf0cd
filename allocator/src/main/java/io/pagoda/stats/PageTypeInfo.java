package io.pagoda.stats;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.buddy.Lifetimes;
import io.pagoda.buddy.Node;
import io.pagoda.buddy.Zone;

import java.util.Locale;

/**
 * The /proc/pagetypeinfo report: free blocks per order for each lifetime type, then the number of
 * pageblocks of each type, in the kernel's format. Frames never touched belong to no type yet and
 * are shown as their own type, "Untouched", where the kernel would show "Isolate".
 *
 * <pre>
 * Page block order: 9
 * Pages per block:  512
 *
 * Free pages count per migrate type at order       0      1      2 ...     10
 * Node    0, zone   Normal, type   ShortLived      3      1      0 ...      0
 * Node    0, zone   Normal, type    LongLived      1      1      1 ...      0
 * ...
 *
 * Number of blocks type     ShortLived    LongLived  Reclaimable    Untouched
 * Node 0, zone   Normal             2            1            0           29
 * </pre>
 */
public final class PageTypeInfo {

    private static final String UNTOUCHED = "Untouched";

    private PageTypeInfo() {
    }

    /** The report for every zone of {@code buddy}. */
    public static String format(BuddySystem buddy) {
        Zone first = buddy.zone(0);
        StringBuilder report = new StringBuilder();
        report.append(String.format(Locale.ROOT, "Page block order: %d%n", first.pageblockOrder()));
        report.append(String.format(Locale.ROOT, "Pages per block:  %d%n%n", 1 << first.pageblockOrder()));
        report.append(String.format(Locale.ROOT, "%-43s", "Free pages count per migrate type at order"));
        for (int order = 0; order <= buddy.maxOrder(); order++) {
            report.append(String.format(Locale.ROOT, "%6d ", order));
        }
        report.append('\n');
        for (Node node : buddy.nodes()) {
            for (Zone zone : node.zones()) {
                long[][] blocks = zone.freeBlocksPerTypeAndOrder();
                for (int type = 0; type <= Lifetimes.COUNT; type++) {
                    report.append(String.format(Locale.ROOT, "Node %4d, zone %8s, type %12s ", node.id(), zone.name(), typeName(type)));
                    for (long count : blocks[type]) {
                        report.append(String.format(Locale.ROOT, "%6d ", count));
                    }
                    report.append('\n');
                }
            }
        }
        report.append("\nNumber of blocks type     ");
        for (int type = 0; type <= Lifetimes.COUNT; type++) {
            report.append(String.format(Locale.ROOT, "%12s ", typeName(type)));
        }
        report.append('\n');
        for (Node node : buddy.nodes()) {
            for (Zone zone : node.zones()) {
                report.append(String.format(Locale.ROOT, "Node %d, zone %8s ", node.id(), zone.name()));
                for (long count : zone.pageblocksPerType()) {
                    report.append(String.format(Locale.ROOT, "%12d ", count));
                }
                report.append('\n');
            }
        }
        return report.toString();
    }

    private static String typeName(int type) {
        return type == Lifetimes.COUNT ? UNTOUCHED : Lifetimes.name(type);
    }
}
