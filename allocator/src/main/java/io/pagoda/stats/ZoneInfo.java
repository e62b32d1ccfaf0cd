package io.pagoda.stats;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.buddy.Node;
import io.pagoda.buddy.Watermarks;
import io.pagoda.buddy.Zone;

import java.util.Locale;

/**
 * The /proc/zoneinfo report: for each zone, its free pages against its watermarks, its size and
 * its counters; then the reclaim counters under the names /proc/vmstat gives them. Values are in
 * pages (frames).
 *
 * <pre>
 * Node 0, zone   Normal
 *   pages free     1012
 *         min      64
 *         low      80
 *         high     96
 *         spanned  1024
 *         allocated 12
 *         pageblock_order 9
 *         fallbacks 0
 *         pageblocks_claimed 0
 *         min_watermark_refusals 0
 *         pages_purged 0
 *         reserved_pageblocks 0
 * reclaim
 *         pageoutrun      0
 *         pgsteal_kswapd  0
 *         allocstall      0
 *         pgsteal_direct  0
 *         shrinker_failures 0
 * </pre>
 */
public final class ZoneInfo {

    /**
     * The reclaim counters, summed over the allocator.
     *
     * @param kswapdRuns       runs of the background reclaimer (vmstat's pageoutrun)
     * @param kswapdReclaimed  pages the shrinkers freed at its asking (pgsteal_kswapd)
     * @param directReclaims   times an allocating thread reclaimed for itself (allocstall)
     * @param directReclaimed  pages the shrinkers freed at those times (pgsteal_direct)
     * @param shrinkerFailures calls into shrinkers that threw
     */
    public record Reclaim(long kswapdRuns, long kswapdReclaimed, long directReclaims, long directReclaimed,
                          long shrinkerFailures) {
    }

    private ZoneInfo() {
    }

    /** The report for every zone of {@code buddy}, then the reclaim counters. */
    public static String format(BuddySystem buddy, Reclaim reclaim) {
        StringBuilder report = new StringBuilder();
        for (Node node : buddy.nodes()) {
            for (Zone zone : node.zones()) {
                Watermarks marks = zone.watermarks();
                report.append(String.format(Locale.ROOT, "Node %d, zone %8s%n", node.id(), zone.name()));
                report.append(String.format(Locale.ROOT, "  pages free     %d%n", zone.freeFrames()));
                line(report, "min      ", marks.min());
                line(report, "low      ", marks.low());
                line(report, "high     ", marks.high());
                line(report, "spanned  ", zone.managedFrames());
                line(report, "allocated", zone.allocatedFrames());
                line(report, "pageblock_order", zone.pageblockOrder());
                Zone.Counters counters = zone.counters();
                line(report, "fallbacks", counters.fallbacks());
                line(report, "pageblocks_claimed", counters.pageblocksClaimed());
                line(report, "min_watermark_refusals", counters.minWatermarkRefusals());
                line(report, "pages_purged", counters.purgedFrames());
                line(report, "reserved_pageblocks", counters.reservedPageblocks());
            }
        }
        report.append("reclaim\n");
        line(report, "pageoutrun     ", reclaim.kswapdRuns());
        line(report, "pgsteal_kswapd ", reclaim.kswapdReclaimed());
        line(report, "allocstall     ", reclaim.directReclaims());
        line(report, "pgsteal_direct ", reclaim.directReclaimed());
        line(report, "shrinker_failures", reclaim.shrinkerFailures());
        return report.toString();
    }

    private static void line(StringBuilder report, String name, long value) {
        report.append(String.format(Locale.ROOT, "        %s %d%n", name, value));
    }
}
