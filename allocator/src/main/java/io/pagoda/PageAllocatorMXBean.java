package io.pagoda;

/**
 * The management interface of one {@link PageAllocator}, for operators' tools (JConsole, JMC,
 * a JMX exporter): its memory, its counters and the kernel-format reports. An allocator built with
 * {@link PageAllocator.Builder#jmxName(String) jmxName(name)} registers it on the platform
 * MBeanServer as {@code io.pagoda:type=PageAllocator,name=<name>}, and unregisters it when it
 * closes.
 *
 * {@snippet lang=java :
 * PageAllocator pages = PageAllocator.builder().capacity(64L << 30).jmxName("buffers").build();
 * MBeanServer server = ManagementFactory.getPlatformMBeanServer();
 * ObjectName name = new ObjectName("io.pagoda:type=PageAllocator,name=buffers");
 * long free = (Long) server.getAttribute(name, "FreeBytes");   // @highlight substring="FreeBytes"
 * }
 *
 * <p>Every attribute is read when asked, from the figures the allocator's own methods and reports
 * give ({@link PageAllocator#freeBytes()}, {@link PageAllocator#cacheStatistics()},
 * {@link PageAllocator#zoneinfo()}); nothing is counted for it on the fast paths. Read while
 * threads allocate, figures may lag by the operations in flight, as those methods' do. Figures of
 * zones are totals over all zones; the reports show each. Counters run from the allocator's
 * creation.
 */
public interface PageAllocatorMXBean {

    /** Bytes of the region: {@link PageAllocator#capacity()}. */
    long getCapacity();

    /** Bytes per page (frame): {@link PageAllocator#pageSize()}. */
    int getPageSize();

    /** The largest order: blocks hold at most {@code PageSize << MaxOrder} bytes. */
    int getMaxOrder();

    /** Bytes free in the zones: {@link PageAllocator#freeBytes()}. */
    long getFreeBytes();

    /** Bytes in blocks handed out and not yet freed: {@link PageAllocator#allocatedBytes()}. */
    long getAllocatedBytes();

    /** Bytes free in the per-thread caches, all together: {@link PageAllocator#cachedBytes()}. */
    long getCachedBytes();

    /** Free blocks of each order, index = order, over all zones: the columns of {@link #getBuddyinfo()}. */
    long[] getFreeBlocksPerOrder();

    /** The min watermark, in bytes: memory only critical allocations and reclaim may use. */
    long getMinWatermarkBytes();

    /** The low watermark, in bytes: below it the background reclaimer is woken. */
    long getLowWatermarkBytes();

    /** The high watermark, in bytes: the background reclaimer works until free memory is above it. */
    long getHighWatermarkBytes();

    /** Allocations served by a per-thread cache without touching a zone ({@link CacheStatistics#hits()}). */
    long getCacheHits();

    /** Allocations that found their per-thread cache empty ({@link CacheStatistics#misses()}). */
    long getCacheMisses();

    /** Frees that went into a per-thread cache ({@link CacheStatistics#frees()}). */
    long getCacheFrees();

    /**
     * Blocks the zones handed out themselves, not through a per-thread cache: larger orders,
     * other lifetimes, slabs' blocks, and allocations whose cache was busy or empty (vmstat's
     * pgalloc, in blocks). With {@link #getCacheHits()} and {@link #getCacheMisses()}, every
     * allocation of a block; an allocation that misses and then finds its zone's lists empty of a
     * batch counts in both.
     */
    long getZoneAllocations();

    /** Blocks freed to the zones themselves, not into a per-thread cache (vmstat's pgfree, in blocks). */
    long getZoneFrees();

    /** Bytes free in the zones of each node, index = node ({@link PageAllocator#nodes()}). */
    long[] getFreeBytesPerNode();

    /** Batches the per-thread caches took from the zones ({@link CacheStatistics#refills()}). */
    long getCacheRefills();

    /** Batches and whole caches the per-thread caches gave back to the zones ({@link CacheStatistics#drains()}). */
    long getCacheDrains();

    /**
     * Allocations that found no memory after the slow path: each {@link OutOfPagesException}, and
     * each 0 of {@link PageAllocator#tryAllocatePages}.
     */
    long getAllocationFailures();

    /** Times an allocating thread asked the shrinkers for memory itself (zoneinfo's {@code allocstall}). */
    long getDirectReclaims();

    /** Bytes the shrinkers freed for allocating threads, in whole pages (zoneinfo's {@code pgsteal_direct}). */
    long getDirectReclaimedBytes();

    /** Runs of the background reclaimer (zoneinfo's {@code pageoutrun}). */
    long getReclaimerRuns();

    /** Bytes the shrinkers freed for the background reclaimer, in whole pages (zoneinfo's {@code pgsteal_kswapd}). */
    long getReclaimerReclaimedBytes();

    /** Calls into shrinkers that threw (zoneinfo's {@code shrinker_failures}). */
    long getShrinkerFailures();

    /** Bytes of free memory handed back to the operating system (zoneinfo's {@code pages_purged}, in bytes). */
    long getPurgedBytes();

    /** {@link PageAllocator#buddyinfo()}: free blocks per order, as /proc/buddyinfo. */
    String getBuddyinfo();

    /** {@link PageAllocator#pagetypeinfo()}: free blocks per order and lifetime, as /proc/pagetypeinfo. */
    String getPagetypeinfo();

    /** {@link PageAllocator#zoneinfo()}: free pages, watermarks and counters, as /proc/zoneinfo. */
    String getZoneinfo();

    /** {@link PageAllocator#unusableIndex()}: the unusable free space index per order, as extfrag/unusable_index. */
    String getUnusableIndex();

    /** {@link PageAllocator#slabinfo()}: objects and slabs per slab class, as /proc/slabinfo. */
    String getSlabinfo();
}
