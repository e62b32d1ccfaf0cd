package io.pagoda;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.management.InstanceAlreadyExistsException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The MXBean, read as an operator's tool reads it: through the platform MBeanServer, by attribute
 * name, checked against the allocator's own figures.
 */
class PageAllocatorMXBeanTest {

    private static final MBeanServer SERVER = ManagementFactory.getPlatformMBeanServer();
    private static final int PAGE = 4096;
    private static final int FRAMES = 1024;
    private static final int MIN = 64;

    private final List<PageAllocator> open = new ArrayList<>();

    @AfterEach
    void close() {
        open.forEach(PageAllocator::close);
    }

    private PageAllocator registered(String name, PageAllocator.Builder builder) {
        PageAllocator pages = builder.jmxName(name).build();
        open.add(pages);
        return pages;
    }

    private static ObjectName objectName(String name) throws JMException {
        return new ObjectName("io.pagoda:type=PageAllocator,name=" + name);
    }

    private static Object attribute(String name, String attribute) throws JMException {
        return SERVER.getAttribute(objectName(name), attribute);
    }

    private static long zoneinfoCounter(PageAllocator pages, String counter) {
        Matcher line = Pattern.compile("\\s" + counter + "\\s+(\\d+)\n").matcher(pages.zoneinfo());
        assertTrue(line.find(), counter + " in " + pages.zoneinfo());
        return Long.parseLong(line.group(1));
    }

    @Test
    void shouldShowTheAllocatorsMemoryAndCacheFiguresUnderItsName() throws JMException {
        PageAllocator pages = registered("figures", PageAllocator.builder().capacity(16L << 20));
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            blocks.add(pages.allocatePages(i % 4));
        }
        pages.freePages(blocks.removeLast(), 3); // into this thread's cache
        pages.freePages(blocks.removeLast(), 2);

        assertEquals(pages.capacity(), attribute("figures", "Capacity"));
        assertEquals(PAGE, attribute("figures", "PageSize"));
        assertEquals(pages.maxOrder(), attribute("figures", "MaxOrder"));
        assertEquals(pages.freeBytes(), attribute("figures", "FreeBytes"));
        assertEquals(pages.allocatedBytes(), attribute("figures", "AllocatedBytes"));
        assertEquals(pages.cachedBytes(), attribute("figures", "CachedBytes"));
        assertTrue(pages.cachedBytes() > 0);
        CacheStatistics caches = pages.cacheStatistics();
        assertEquals(caches.hits(), attribute("figures", "CacheHits"));
        assertEquals(caches.misses(), attribute("figures", "CacheMisses"));
        assertEquals(caches.refills(), attribute("figures", "CacheRefills"));
        assertEquals(caches.drains(), attribute("figures", "CacheDrains"));
        assertEquals(2L, attribute("figures", "CacheFrees"), "the two frees into this thread's cache");
    }

    @Test
    void shouldCountTheBlocksTheZonesHandOutAndTakeBackThemselves() throws JMException {
        PageAllocator pages = registered("zones", PageAllocator.builder().capacity(16L << 20).cachedOrders(2));
        long cached = pages.allocatePages(1);                  // through the cache
        long large = pages.allocatePages(5);                   // from the zone
        long longLived = pages.allocatePages(0, Lifetime.LONG_LIVED); // from the zone: caches hold short-lived blocks
        pages.freePages(large, 5);
        pages.freePages(longLived, 0);
        pages.freePages(cached, 1);
        assertEquals(2L, attribute("zones", "ZoneAllocations"));
        assertEquals(2L, attribute("zones", "ZoneFrees"));
        assertEquals(1L, attribute("zones", "CacheFrees"));
    }

    @Test
    void shouldShowTheFreeBytesOfEachNode() throws JMException {
        PageAllocator pages = registered("nodes", PageAllocator.builder().capacity(16L << 20).nodes(2).cachedOrders(0).minFreeBytes(0));
        pages.bindCurrentThread(1, MemoryPolicy.BIND);
        pages.allocatePages(3);
        assertArrayEquals(new long[] {8L << 20, (8L << 20) - 8 * PAGE}, (long[]) attribute("nodes", "FreeBytesPerNode"));
    }

    @Test
    void shouldShowTheFreeBlocksPerOrderAsBuddyinfoCountsThem() throws JMException {
        PageAllocator pages = registered("blocks", PageAllocator.builder().capacity(16L << 20).cachedOrders(0));
        pages.allocatePages(0);
        pages.allocatePages(5);
        long[] blocks = (long[]) attribute("blocks", "FreeBlocksPerOrder");
        String[] columns = pages.buddyinfo().trim().split("\\s+");
        long[] buddyinfo = new long[pages.maxOrder() + 1];
        for (int order = 0; order < buddyinfo.length; order++) {
            buddyinfo[order] = Long.parseLong(columns[columns.length - buddyinfo.length + order]);
        }
        assertArrayEquals(buddyinfo, blocks);
        long freeFrames = 0;
        for (int order = 0; order < blocks.length; order++) {
            freeFrames += blocks[order] << order;
        }
        assertEquals(pages.freeBytes(), freeFrames * PAGE);
    }

    @Test
    void shouldShowTheWatermarksInBytes() throws JMException {
        registered("watermarks", PageAllocator.builder().capacity((long) FRAMES * PAGE).minFreeBytes((long) MIN * PAGE));
        // With 64 frames of min in 1024: low = 64 + 64/4 = 80, high = 96.
        assertEquals(64L * PAGE, attribute("watermarks", "MinWatermarkBytes"));
        assertEquals(80L * PAGE, attribute("watermarks", "LowWatermarkBytes"));
        assertEquals(96L * PAGE, attribute("watermarks", "HighWatermarkBytes"));
    }

    private PageAllocator smallAllocator(String name) {
        return registered(name, PageAllocator.builder().capacity((long) FRAMES * PAGE).cachedOrders(0)
                .minFreeBytes((long) MIN * PAGE));
    }

    private static List<Long> allocateUntilFree(PageAllocator pages, long framesLeft) {
        List<Long> held = new ArrayList<>();
        while (pages.freeBytes() / PAGE > framesLeft) {
            held.add(pages.allocatePages(0));
        }
        return held;
    }

    @Test
    void shouldCountAllocationFailuresThrownOrAnsweredWithZero() throws JMException {
        PageAllocator pages = smallAllocator("failures");
        allocateUntilFree(pages, MIN);
        assertEquals(0L, attribute("failures", "AllocationFailures"));
        assertThrows(OutOfPagesException.class, () -> pages.allocatePages(0));
        assertEquals(0, pages.tryAllocatePages(1, Lifetime.SHORT_LIVED));
        assertEquals(2L, attribute("failures", "AllocationFailures"));
    }

    /**
     * Asserts that an attribute equals a zoneinfo counter times {@code scale}. The reclaimer may
     * still be running: the attribute is read between two equal readings of the counter (which
     * only grows), so that both are of the same moment.
     */
    private static void assertMatchesZoneinfo(PageAllocator pages, String name, String attribute, String counter, long scale)
            throws JMException {
        long before;
        long value;
        long after;
        do {
            before = zoneinfoCounter(pages, counter);
            value = (Long) attribute(name, attribute);
            after = zoneinfoCounter(pages, counter);
        } while (before != after);
        assertEquals(before * scale, value, attribute + " against " + counter);
    }

    @Test
    void shouldShowTheReclaimCountersOfZoneinfo() throws JMException {
        PageAllocator pages = smallAllocator("reclaim");
        FrameCache cache = new FrameCache(pages, false);
        pages.registerShrinker(cache);
        List<Long> held = allocateUntilFree(pages, MIN); // below low: the reclaimer is woken, and finds nothing yet
        for (int i = 0; i < 40; i++) {
            cache.frames.add(held.removeLast());
        }
        while (pages.tryAllocatePages(0, Lifetime.SHORT_LIVED) != 0) {
            // at min, each allocation reclaims from the cache itself until it is empty (and the
            // reclaimer, woken below low, may take some of it too)
        }
        assertTrue((Long) attribute("reclaim", "DirectReclaims") + (Long) attribute("reclaim", "ReclaimerRuns") > 0);
        assertTrue((Long) attribute("reclaim", "DirectReclaimedBytes") + (Long) attribute("reclaim", "ReclaimerReclaimedBytes") > 0,
                pages.zoneinfo());
        assertMatchesZoneinfo(pages, "reclaim", "DirectReclaims", "allocstall", 1);
        assertMatchesZoneinfo(pages, "reclaim", "DirectReclaimedBytes", "pgsteal_direct", PAGE);
        assertMatchesZoneinfo(pages, "reclaim", "ReclaimerRuns", "pageoutrun", 1);
        assertMatchesZoneinfo(pages, "reclaim", "ReclaimerReclaimedBytes", "pgsteal_kswapd", PAGE);
        assertMatchesZoneinfo(pages, "reclaim", "ShrinkerFailures", "shrinker_failures", 1);
        assertMatchesZoneinfo(pages, "reclaim", "PurgedBytes", "pages_purged", PAGE);
    }

    @Test
    void shouldExposeTheKernelFormatReportsAsText() throws JMException {
        PageAllocator pages = registered("reports", PageAllocator.builder().capacity(16L << 20).cachedOrders(0));
        pages.allocatePages(3, Lifetime.LONG_LIVED);
        pages.allocate(100);
        assertEquals(pages.buddyinfo(), attribute("reports", "Buddyinfo"));
        assertEquals(pages.slabinfo(), attribute("reports", "Slabinfo"));
        assertEquals(pages.pagetypeinfo(), attribute("reports", "Pagetypeinfo"));
        assertEquals(pages.zoneinfo(), attribute("reports", "Zoneinfo"));
        assertEquals(pages.unusableIndex(), attribute("reports", "UnusableIndex"));
    }

    @Test
    void shouldUnregisterTheMXBeanWhenTheAllocatorCloses() throws JMException {
        PageAllocator pages = registered("closing", PageAllocator.builder().capacity(16L << 20));
        assertTrue(SERVER.isRegistered(objectName("closing")));
        pages.close();
        assertFalse(SERVER.isRegistered(objectName("closing")));
        pages.close(); // closing again does nothing, and a new allocator may take the name
        registered("closing", PageAllocator.builder().capacity(8L << 20));
        assertEquals(8L << 20, attribute("closing", "Capacity"));
    }

    @Test
    void shouldRefuseASecondAllocatorOfTheSameNameAndLeaveTheFirstRegistered() throws JMException {
        registered("taken", PageAllocator.builder().capacity(16L << 20));
        PageAllocator.Builder second = PageAllocator.builder().capacity(8L << 20).jmxName("taken");
        IllegalStateException refused = assertThrows(IllegalStateException.class, second::build);
        assertTrue(refused.getMessage().contains("io.pagoda:type=PageAllocator,name=taken is registered already"),
                refused.getMessage());
        assertInstanceOf(InstanceAlreadyExistsException.class, refused.getCause());
        assertEquals(16L << 20, attribute("taken", "Capacity"), "the first allocator's bean is still the one registered");
    }

    @Test
    void shouldRefuseANameThatIsNotAnObjectNameValueUnlessQuoted() throws JMException {
        for (String bad : List.of("", "a,b", "a=b", "a:b", "a*", "a?", "\"a")) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> PageAllocator.builder().jmxName(bad), bad);
            assertTrue(refused.getMessage().contains("ObjectName.quote"), refused.getMessage());
        }
        registered(ObjectName.quote("a,b"), PageAllocator.builder().capacity(8L << 20));
        assertTrue(SERVER.isRegistered(objectName(ObjectName.quote("a,b"))));
    }

    @Test
    void shouldRegisterNothingWithoutAJmxName() throws JMException {
        int before = SERVER.queryNames(new ObjectName("io.pagoda:type=PageAllocator,*"), null).size();
        try (PageAllocator pages = PageAllocator.builder().capacity(8L << 20).build()) {
            assertEquals(before, SERVER.queryNames(new ObjectName("io.pagoda:type=PageAllocator,*"), null).size());
        }
    }
}
