package io.pagoda;

import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The JFR events, each provoked for real under a recording, then read back from the recording's
 * file: what an operator sees in JDK Mission Control or {@code jfr print}.
 */
class FlightRecorderEventsTest {

    private static final int PAGE = 4096;
    private static final int FRAMES = 1024;
    /** With 64 frames of min in 1024: low = 64 + 64/4 = 80, high = 96. */
    private static final int MIN = 64;
    private static final int LOW = 80;
    private static final int HIGH = 96;

    @TempDir
    Path dir;

    private PageAllocator pages;

    @AfterEach
    void close() {
        if (pages != null) {
            pages.close();
        }
    }

    /** Small, without caches, with watermarks that a test reaches in a few hundred allocations. */
    private PageAllocator smallAllocator() {
        pages = PageAllocator.builder().capacity((long) FRAMES * PAGE).cachedOrders(0).minFreeBytes((long) MIN * PAGE).build();
        return pages;
    }

    private interface Provocation {
        void run() throws Exception;
    }

    /** The events named {@code name} recorded while {@code provoke} ran, read back from the dumped recording. */
    private List<RecordedEvent> recorded(String name, Provocation provoke) throws Exception {
        Path file = dir.resolve(name + ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable(name);
            recording.start();
            provoke.run();
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = new ArrayList<>();
        for (RecordedEvent event : RecordingFile.readAllEvents(file)) {
            if (event.getEventType().getName().equals(name)) {
                events.add(event);
            }
        }
        return events;
    }

    private List<Long> allocateUntilFree(long framesLeft) {
        List<Long> held = new ArrayList<>();
        while (pages.freeBytes() / PAGE > framesLeft) {
            held.add(pages.allocatePages(0));
        }
        return held;
    }

    /** A counter of the zoneinfo report, by its name. */
    private long zoneinfoCounter(String name) {
        Matcher line = Pattern.compile("\\s" + name + "\\s+(\\d+)\n").matcher(pages.zoneinfo());
        assertTrue(line.find(), name + " in " + pages.zoneinfo());
        return Long.parseLong(line.group(1));
    }

    private static void awaitTrue(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
            Thread.sleep(1);
        }
    }

    private static String threadOf(RecordedEvent event) {
        return event.getThread().getJavaName();
    }

    @Test
    void shouldRecordAnAllocationFailureWithWhatWasAskedAndTheBuddyinfo() throws Exception {
        smallAllocator();
        allocateUntilFree(MIN);
        String[] buddyinfo = new String[1];
        List<RecordedEvent> events = recorded("io.pagoda.AllocationFailure", () -> {
            assertThrows(OutOfPagesException.class, () -> pages.allocatePages(2, Lifetime.LONG_LIVED));
            buddyinfo[0] = pages.buddyinfo();
        });
        assertEquals(1, events.size(), events.toString());
        RecordedEvent failure = events.getFirst();
        assertEquals(2, failure.getInt("order"));
        assertEquals(4L * PAGE, failure.getLong("blockSize"));
        assertEquals("LongLived", failure.getString("lifetime"));
        assertFalse(failure.getBoolean("critical"));
        assertEquals((long) MIN * PAGE, failure.getLong("freeBytes"), "what the min watermark keeps back");
        assertEquals(buddyinfo[0], failure.getString("buddyinfo"));
        assertEquals(Thread.currentThread().getName(), threadOf(failure));
        assertTrue(failure.getStackTrace().getFrames().stream()
                .anyMatch(frame -> frame.getMethod().getName().equals("allocatePages")), "the stack shows who asked");
    }

    @Test
    void shouldRecordATryAllocationThatAnswersZeroAsAFailureToo() throws Exception {
        smallAllocator();
        allocateUntilFree(MIN);
        List<RecordedEvent> events = recorded("io.pagoda.AllocationFailure",
                () -> assertEquals(0, pages.tryAllocatePages(0, Lifetime.SHORT_LIVED)));
        assertEquals(1, events.size(), events.toString());
        assertEquals("ShortLived", events.getFirst().getString("lifetime"));
    }

    @Test
    void shouldRecordDirectReclaimWithWhatItAskedTheShrinkersForAndGot() throws Exception {
        smallAllocator();
        FrameCache cache = new FrameCache(pages, true);
        pages.registerShrinker(cache);
        List<Long> held = allocateUntilFree(MIN);
        for (int i = 0; i < 40; i++) {
            cache.frames.add(held.removeLast()); // it could give back 40 frames
        }
        List<RecordedEvent> events = recorded("io.pagoda.DirectReclaim", () -> pages.allocatePages(0));
        assertEquals(1, events.size(), events.toString());
        RecordedEvent reclaim = events.getFirst();
        assertEquals(32L * PAGE, reclaim.getLong("requestedBytes"), "at least the kernel's SWAP_CLUSTER_MAX, 32 pages");
        assertEquals(32L * PAGE, reclaim.getLong("reclaimedBytes"));
        assertEquals(8, cache.frames.size(), "the shrinker gave what was asked, not all it had");
        assertEquals(Thread.currentThread().getName(), threadOf(reclaim), "the allocating thread reclaimed");
        assertEquals(1, zoneinfoCounter("allocstall"));
    }

    @Test
    void shouldRecordACacheDrainWithWhatThePerThreadCachesGaveBack() throws Exception {
        pages = PageAllocator.builder().capacity(16L << 20).cacheBatch(8).cacheHigh(64)
                .cacheIdleTimeout(Duration.ofHours(1)).build();
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            blocks.add(pages.allocatePages(0));
        }
        blocks.forEach(block -> pages.freePages(block, 0)); // into this thread's cache
        long cached = pages.cachedBytes();
        assertEquals(16L * PAGE, cached, "under cacheHigh, every block stays in the cache");
        List<RecordedEvent> events = recorded("io.pagoda.CacheDrain", pages::trim);
        assertEquals(1, events.size(), events.toString());
        RecordedEvent drain = events.getFirst();
        assertEquals(cached, drain.getLong("cachedBytes"));
        assertEquals(cached, drain.getLong("returnedBytes"));
        assertEquals(0, pages.cachedBytes());
    }

    @Test
    void shouldRecordAReclaimerRunFromBelowLowToAboveHigh() throws Exception {
        smallAllocator();
        FrameCache cache = new FrameCache(pages, false);
        pages.registerShrinker(cache);
        long[] reclaimedPages = new long[1];
        List<RecordedEvent> events = recorded("io.pagoda.ReclaimerRun", () -> {
            // A count fixed in advance, not a loop on freeBytes: the reclaimer may refill the zone
            // before the last frame is added, and the test must not allocate during its run.
            for (long frames = pages.freeBytes() / PAGE - (LOW - 1); frames > 0; frames--) {
                cache.frames.add(pages.allocatePages(0)); // the last one leaves the zone below low
            }
            // The zone reaches high inside the shrinker's last free, before the reclaimer adds what
            // the shrinker freed to pgsteal_kswapd: wait for the count too.
            awaitTrue("the reclaimer brought the zone above high and counted it",
                    () -> pages.freeBytes() / PAGE >= HIGH && zoneinfoCounter("pgsteal_kswapd") >= HIGH - (LOW - 1));
            reclaimedPages[0] = zoneinfoCounter("pgsteal_kswapd");
            pages.close(); // joins the reclaimer: its run is committed
        });
        assertFalse(events.isEmpty());
        RecordedEvent first = events.getFirst();
        assertEquals("pagoda-reclaimer", threadOf(first));
        assertEquals((long) (HIGH - (LOW - 1)) * PAGE, first.getLong("shortfallBytes"), "from one frame below low to high");
        assertTrue(first.getLong("reclaimedBytes") >= first.getLong("shortfallBytes"), first.toString());
        assertTrue(first.getBoolean("balanced"), first.toString());
        assertEquals(reclaimedPages[0] * PAGE, events.stream().mapToLong(run -> run.getLong("reclaimedBytes")).sum(),
                "the runs add up to zoneinfo's pgsteal_kswapd");
    }

    @Test
    void shouldRecordMemoryHandedBackToTheOperatingSystem() throws Exception {
        // The reaper runs a purge pass every 10 ms; the debug mode never purges, so it is off here.
        pages = PageAllocator.builder().capacity(32L << 20).cacheIdleTimeout(Duration.ofMillis(40))
                .purgeDecay(Duration.ofMillis(20)).debug(false).build();
        int order = 9;
        long[] purgedPages = new long[1];
        List<RecordedEvent> events = recorded("io.pagoda.Purge", () -> {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                blocks.add(pages.allocatePages(order));
            }
            blocks.forEach(block -> pages.freePages(block, order));
            awaitTrue("the freed blocks were handed back", () -> zoneinfoCounter("pages_purged") >= 4L << order);
            purgedPages[0] = zoneinfoCounter("pages_purged");
            pages.close(); // joins the reaper: its passes are committed
        });
        assertFalse(events.isEmpty());
        for (RecordedEvent pass : events) {
            assertTrue(pass.getLong("pages") > 0, "passes that hand nothing back are not recorded: " + pass);
            assertEquals(pass.getLong("pages") * PAGE, pass.getLong("purgedBytes"));
            assertEquals("pagoda-cache-reaper", threadOf(pass));
        }
        assertTrue(events.stream().mapToLong(pass -> pass.getLong("pages")).sum() >= purgedPages[0],
                "the passes add up to zoneinfo's pages_purged: " + events);
    }
}
