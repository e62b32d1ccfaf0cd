package io.pagoda.examples.db;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the process costs, read at one moment: resident memory (VmRSS) and its peak (VmHWM) from
 * {@code /proc/self/status}, heap in use and committed (the committed heap is part of the RSS
 * once touched, whatever is stored there), and the garbage collectors' count and time summed over
 * every collector (for G1: young, concurrent and full collections).
 *
 * @param rssBytes      VmRSS, or -1 where /proc is not there
 * @param peakRssBytes  VmHWM, or -1 where /proc is not there
 */
record ProcessStats(long rssBytes, long peakRssBytes, long heapUsedBytes, long heapCommittedBytes, long gcCount,
                    long gcMillis) {

    private static final Path STATUS = Path.of("/proc/self/status");

    static ProcessStats now() {
        long count = 0;
        long millis = 0;
        for (GarbageCollectorMXBean collector : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, collector.getCollectionCount());
            millis += Math.max(0, collector.getCollectionTime());
        }
        MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        if (!Files.isReadable(STATUS)) {
            return new ProcessStats(-1, -1, heap.getUsed(), heap.getCommitted(), count, millis);
        }
        try {
            long rss = -1;
            long peak = -1;
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith("VmRSS:")) {
                    rss = kilobytes(line);
                } else if (line.startsWith("VmHWM:")) {
                    peak = kilobytes(line);
                }
            }
            return new ProcessStats(rss, peak, heap.getUsed(), heap.getCommitted(), count, millis);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A line such as {@code VmRSS:     123456 kB}, in bytes. */
    private static long kilobytes(String line) {
        String[] fields = line.trim().split("\\s+");
        return Long.parseLong(fields[1]) << 10;
    }
}
