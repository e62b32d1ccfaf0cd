package io.pagoda.stats;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.buddy.Node;
import io.pagoda.buddy.Zone;

import java.util.Locale;

/**
 * The /proc/buddyinfo report: for each zone of each node, the number of free blocks of each
 * order, in the kernel's format ({@code "Node %d, zone %8s "} then {@code "%6lu "} per order).
 *
 * <pre>
 * Node 0, zone   Normal      1      0      1      1      0      0      0      0      0      0    255
 * </pre>
 */
public final class BuddyInfo {

    private BuddyInfo() {
    }

    /** The report for every zone of {@code buddy}, one line per zone. */
    public static String format(BuddySystem buddy) {
        StringBuilder report = new StringBuilder();
        for (Node node : buddy.nodes()) {
            for (Zone zone : node.zones()) {
                report.append(String.format(Locale.ROOT, "Node %d, zone %8s ", node.id(), zone.name()));
                for (long blocks : zone.freeBlocksPerOrder()) {
                    report.append(String.format(Locale.ROOT, "%6d ", blocks));
                }
                report.append('\n');
            }
        }
        return report.toString();
    }
}
