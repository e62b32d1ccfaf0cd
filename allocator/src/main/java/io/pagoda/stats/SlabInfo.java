package io.pagoda.stats;

import java.util.List;
import java.util.Locale;

/**
 * The /proc/slabinfo report (version 2.1): for each slab class, its objects and slabs, in the
 * kernel's columns. A class's figures are summed over the nodes, as the kernel's are.
 *
 * <pre>
 * slabinfo - version: 2.1
 * # name            &lt;active_objs&gt; &lt;num_objs&gt; &lt;objsize&gt; &lt;objperslab&gt; &lt;pagesperslab&gt; : tunables &lt;limit&gt; &lt;batchcount&gt; &lt;sharedfactor&gt; : slabdata &lt;active_slabs&gt; &lt;num_slabs&gt; &lt;sharedavail&gt;
 * pagoda-256           100    112    256   16    1 : tunables  128   64    0 : slabdata      7      7      0
 * </pre>
 */
public final class SlabInfo {

    /**
     * One slab class's line.
     *
     * @param activeObjects  objects out of their slabs: with users, or in per-thread magazines
     *                       (the kernel counts its per-CPU caches' objects as active too)
     * @param objects        objects the class's slabs hold, free or not
     * @param limit          the most objects a thread's magazine of the class holds
     * @param batch          objects a magazine takes from the slabs, or gives back, at once
     * @param activeSlabs    slabs with at least one object out
     */
    public record Row(long objectSize, long activeObjects, long objects, int objectsPerSlab, int pagesPerSlab,
                      int limit, int batch, long activeSlabs, long slabs) {
    }

    private SlabInfo() {
    }

    /** The report: the kernel's two header lines, then one line per class, named {@code pagoda-<size>}. */
    public static String format(List<Row> rows) {
        StringBuilder report = new StringBuilder("slabinfo - version: 2.1\n# name            <active_objs> <num_objs> "
                + "<objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata "
                + "<active_slabs> <num_slabs> <sharedavail>\n");
        for (Row row : rows) {
            // The kernel's format: "%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u : slabdata %6lu %6lu %6lu".
            report.append(String.format(Locale.ROOT, "%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : slabdata %6d %6d %6d\n",
                    "pagoda-" + row.objectSize(), row.activeObjects(), row.objects(), row.objectSize(), row.objectsPerSlab(),
                    row.pagesPerSlab(), row.limit(), row.batch(), 0, row.activeSlabs(), row.slabs(), 0));
        }
        return report.toString();
    }
}
