package io.pagoda.examples.db;

import java.util.SplittableRandom;

/**
 * One back end's run, in this process: bulk-loads a table of {@code records} records, reads as
 * many random keys, updates a quarter of that many random keys (a new version each), drops the
 * table, loads it again, and measures each step, resident memory between them, and the
 * collectors' work.
 *
 * <p>Every back end sees the same keys, values and access order (fixed seeds), through the same
 * table code; only the segments' memory differs. The load follows only a small warm-up table, so it
 * includes most of the JIT's warm-up of the write path, equally for all (loading the table again
 * after the drop gives the warm figure); the timed gets follow an untimed pass over half as many
 * other random keys, so that they measure reads, not compilation.
 */
final class TableBenchmark {

    /** Segments per table, at least. */
    static final int MIN_SEGMENTS = 16;
    /**
     * Records per segment, at most: its index is then 2^18 slots of 16 bytes, 4 MiB, which is one
     * of Pagoda's largest blocks (by default). A larger index would be a mapping of its own,
     * unmapped at the drop, and the drop would time the kernel freeing its pages (with 16 segments
     * of 250,000 records, an 8 MiB index each, Pagoda's drop took 25 to 40 ms on the machine of the
     * README, and 7 ms with an allocator whose largest block held the index).
     */
    static final long MAX_SEGMENT_RECORDS = 1 << 17;
    private static final long SEED = 0x5EED;
    private static final int WARM_UP_RECORDS = 10_000;
    /** Seconds the run waits after the drop before it reads resident memory again: past Pagoda's purge decay here. */
    static final int SETTLE_SECONDS = 2;

    private TableBenchmark() {
    }

    /**
     * Runs the benchmark on a new storage of {@code backend}.
     *
     * @throws IllegalArgumentException if {@code records} is not positive
     */
    static Measurements run(Backend backend, long records) {
        if (records <= 0) {
            throw new IllegalArgumentException("records must be positive: " + records);
        }
        byte[] key = new byte[Workload.MAX_KEY_BYTES];
        byte[] value = new byte[Workload.MAX_VALUE_BYTES];
        ProcessStats start = ProcessStats.now();
        try (Storage storage = backend.open()) {
            // Untimed: a small table loaded and dropped, so that the timed drop is not the first
            // run of the drop path (class loading, linking: milliseconds that belong to no back end).
            int segments = segmentsFor(records);
            Table warmUp = new Table("warm-up", storage, segments, WARM_UP_RECORDS);
            Workload.load(warmUp, WARM_UP_RECORDS, key, value);
            warmUp.drop();

            Table table = new Table("orders", storage, segments, records);

            long began = System.nanoTime();
            Workload.load(table, records, key, value);
            long loadNanos = System.nanoTime() - began;
            ProcessStats loaded = ProcessStats.now();

            // Untimed: the load compiled the write path, this compiles the read path before it is timed.
            readRandomKeys(table, records, records / 2, new SplittableRandom(~SEED), key, value);
            SplittableRandom random = new SplittableRandom(SEED);
            began = System.nanoTime();
            long checksum = readRandomKeys(table, records, records, random, key, value);
            long getNanos = System.nanoTime() - began;

            long updates = Math.max(1, records / 4);
            began = System.nanoTime();
            for (long n = 0; n < updates; n++) {
                long i = random.nextLong(records);
                table.put(key, Workload.key(i, key), value, Workload.value(i, (int) n + 1, value));
            }
            long updateNanos = System.nanoTime() - began;
            ProcessStats updated = ProcessStats.now();

            began = System.nanoTime();
            table.drop();
            long dropNanos = System.nanoTime() - began;
            began = System.nanoTime();
            System.gc();
            long gcNanos = System.nanoTime() - began;
            ProcessStats dropped = ProcessStats.now();
            settle(); // what each back end gives back to the kernel by itself, given time
            ProcessStats settled = ProcessStats.now();

            // The same table again, warm: is the dropped table's memory reused, or does the process grow?
            Table again = new Table("orders", storage, segments, records);
            began = System.nanoTime();
            Workload.load(again, records, key, value);
            long reloadNanos = System.nanoTime() - began;
            ProcessStats reloaded = ProcessStats.now();
            again.drop();

            return new Measurements(backend.label(), records, perSecond(records, loadNanos),
                    perSecond(records, getNanos), perSecond(updates, updateNanos), dropNanos / 1e6, gcNanos / 1e6,
                    perSecond(records, reloadNanos), start.rssBytes(), loaded.rssBytes(), updated.rssBytes(),
                    dropped.rssBytes(), settled.rssBytes(), reloaded.rssBytes(), reloaded.peakRssBytes(), loaded.heapUsedBytes(),
                    updated.heapCommittedBytes(), updated.gcCount() - start.gcCount(),
                    updated.gcMillis() - start.gcMillis(), checksum);
        }
    }

    /** The segments of a table of {@code records}: a power of two, enough that none holds more than {@link #MAX_SEGMENT_RECORDS}. */
    private static void settle() {
        try {
            Thread.sleep(SETTLE_SECONDS * 1000L);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting after the drop", e);
        }
    }

    static int segmentsFor(long records) {
        long needed = (records + MAX_SEGMENT_RECORDS - 1) / MAX_SEGMENT_RECORDS;
        long segments = Math.max(MIN_SEGMENTS, Long.highestOneBit(Math.max(1, needed - 1)) << 1);
        if (segments > Table.MAX_SEGMENTS) {
            throw new IllegalArgumentException(records + " records need more than " + Table.MAX_SEGMENTS + " segments");
        }
        return (int) segments;
    }

    /** Reads {@code gets} random keys of the {@code records} loaded, and returns a checksum of the values. */
    private static long readRandomKeys(Table table, long records, long gets, SplittableRandom random,
                                       byte[] key, byte[] value) {
        long checksum = 0;
        for (long n = 0; n < gets; n++) {
            int length = table.get(key, Workload.key(random.nextLong(records), key), value);
            checksum = checksum * 31 + length + value[length - 1];
        }
        return checksum;
    }

    private static double perSecond(long operations, long nanos) {
        return operations * 1e9 / Math.max(1, nanos);
    }
}
