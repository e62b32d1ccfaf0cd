package io.pagoda;

import io.pagoda.buddy.BuddySystem;
import io.pagoda.buddy.ExactRuns;
import io.pagoda.buddy.Lifetimes;
import io.pagoda.buddy.Watermarks;
import io.pagoda.buddy.Zone;
import io.pagoda.pcp.CacheReaper;
import io.pagoda.pcp.CacheSnapshot;
import io.pagoda.pcp.ThreadCaches;
import io.pagoda.reclaim.Reclaimer;
import io.pagoda.reclaim.Shrinkers;
import io.pagoda.region.NativeMemory;
import io.pagoda.region.PageDescriptors;
import io.pagoda.region.Region;
import io.pagoda.slab.FrameSource;
import io.pagoda.slab.SizeClasses;
import io.pagoda.slab.Slabs;
import io.pagoda.stats.BuddyInfo;
import io.pagoda.stats.PageTypeInfo;
import io.pagoda.stats.SlabInfo;
import io.pagoda.stats.UnusableIndex;
import io.pagoda.stats.ZoneInfo;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * An off-heap page allocator: the Linux kernel's buddy allocator over one reserved region.
 *
 * <p>The region is carved into frames of {@link #pageSize()} bytes (4 KiB by default) and handed
 * out in blocks of 2^order frames, order 0 to {@link #maxOrder()} (10 by default: 4 MiB). A block
 * of order k is aligned to its own size. Freed blocks merge with their buddies, so memory freed in
 * small pieces becomes available again in large ones.
 *
 * {@snippet lang=java :
 * try (PageAllocator pages = PageAllocator.builder()
 *         .capacity(64L << 30)          // 64 GiB of address space, no memory until touched
 *         .build()) {
 *     MemorySegment buffer = pages.allocate(16 * 1024);   // @highlight substring="allocate"
 *     buffer.set(ValueLayout.JAVA_LONG, 0, 42L);
 *     pages.free(buffer);                                 // @highlight substring="free"
 *
 *     long block = pages.allocatePages(3);                // 8 frames (32 KiB), as an address
 *     pages.freePages(block, 3);
 *     System.out.print(pages.buddyinfo());
 * }
 * }
 *
 * <h2>Two ways in</h2>
 * <ul>
 *   <li>by size, as a {@link MemorySegment}: {@link #allocate(long)} and {@link #free(MemorySegment)}.
 *       The segment is a slice of the region of exactly the size asked for, so the JDK checks its
 *       bounds, and it becomes inaccessible when the allocator is closed.</li>
 *   <li>by order, as a raw address: {@link #allocatePages(int)} and {@link #freePages(long, int)},
 *       for code that manages addresses itself. Nothing checks accesses through such an address.</li>
 * </ul>
 *
 * <h2>Per-thread caches</h2>
 * Blocks of the small orders (0 to 3 by default, up to 32 KiB) go through a cache per thread, like
 * the kernel's per-CPU page lists: allocating pops the calling thread's cache and freeing pushes on
 * the freeing thread's cache, without a lock; the zone is visited once per batch. Under memory
 * pressure, and on {@link #trim()}, every cache is drained, even those of blocked threads; the
 * caches of dead threads and caches idle for {@link Builder#cacheIdleTimeout} are drained by a
 * background thread. Virtual threads share a bounded set of caches.
 *
 * <h2>Bad input</h2>
 * Every method checks its arguments before it changes anything. A double free, a free of an
 * address that is not the head of an allocated block, a wrong order or size on free, an address or
 * segment from elsewhere, a size that is zero, negative or above the largest block, and any call
 * after {@link #close()}: each throws an exception that says what was wrong, and the allocator is
 * left exactly as it was.
 *
 * <p>Instances are thread-safe.
 */
public final class PageAllocator implements SegmentAllocator, AutoCloseable {

    /** Default frame size: 4 KiB, as on x86-64 Linux. */
    public static final int DEFAULT_PAGE_SIZE = 4096;
    /** Default largest order: 10, so the largest block is 1024 frames (4 MiB), as in Linux. */
    public static final int DEFAULT_MAX_ORDER = 10;
    /** Smallest frame size: the operating system's page, so that blocks can be handed back to it. */
    public static final int MIN_PAGE_SIZE = 4096;
    /** Largest frame size: 1 GiB. */
    public static final int MAX_PAGE_SIZE = 1 << 30;
    /** Largest configurable order. */
    public static final int MAX_ORDER_LIMIT = 20;
    /** Default number of cached orders: 0 to 3, the kernel's PAGE_ALLOC_COSTLY_ORDER. */
    public static final int DEFAULT_CACHED_ORDERS = 4;
    /** Most nodes: the kernel's MAX_NUMNODES (NODES_SHIFT 10). Each node's zonelist orders all the nodes. */
    public static final int MAX_NODES = 1024;
    /** Most cached orders. */
    public static final int MAX_CACHED_ORDERS = 8;
    /** log2 of the default pageblock's bytes: 2 MiB, a transparent huge page. */
    private static final int DEFAULT_PAGEBLOCK_SHIFT = 21;
    /** Default idle time after which a per-thread cache is emptied. */
    public static final Duration DEFAULT_CACHE_IDLE_TIMEOUT = Duration.ofSeconds(2);
    /** How long a large block stays free before its memory goes back to the OS, by default: jemalloc's dirty decay. */
    public static final Duration DEFAULT_PURGE_DECAY = Duration.ofSeconds(10);
    /** Most frames one allocator manages: 2^30 (4 TiB of 4 KiB frames), so frame numbers fit an int. */
    public static final long MAX_FRAMES = 1L << 30;

    /** How the region is backed. */
    public enum Backing {
        /**
         * {@code mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE)} through the FFM Linker (Linux): the
         * region is address space only, and costs resident memory as pages are first touched.
         */
        MMAP_NORESERVE,
        /**
         * An FFM allocation from a shared {@link java.lang.foreign.Arena}: works everywhere, but the
         * JDK zeroes the whole region when the allocator is built, so it is all resident at once.
         */
        FFM_ARENA
    }

    private static final int SHORT_LIVED = Lifetimes.SHORT_LIVED;
    /** Large free blocks a purge pass hands back per zone at most. */
    private static final int PURGE_LIMIT = 64;
    /** Rounds of direct reclaim an allocation tries while each frees something: the kernel's MAX_RECLAIM_RETRIES. */
    private static final int MAX_RECLAIM_RETRIES = 16;
    /** Open arenas below which opening one never sweeps for orphaned arenas. */
    private static final int ORPHAN_SWEEP_MINIMUM = 64;
    /** What direct reclaim asks the shrinkers for at least: the kernel's SWAP_CLUSTER_MAX. */
    private static final int DIRECT_RECLAIM_FRAMES = 32;
    /** Slabs live as long as any object in them: long-lived, as the kernel's are unmovable. */
    private static final int SLAB_LIFETIME = Lifetimes.LONG_LIVED;

    private final Region region;
    private final BuddySystem buddy;
    /** Blocks across the nodes: the per-thread caches, zonelists and memory policies. */
    private final NodeFrames frames;
    private final SizeClasses sizeClasses;
    private final NodeSlabs slabs;
    /** With one node, its slabs: the small objects' shortest way; null with several. */
    private final Slabs soleSlabs;
    /** Sizes up to this are size classes: slab objects, or page blocks of a class's size. */
    private final long largestClass;
    /** Allocations above the largest block: a mapping of their own each, by address. */
    private final LargeMappings largeMappings;
    /** The buffers {@link #allocateBuffer} handed out and not yet released, by address. */
    private final LiveBuffers liveBuffers = new LiveBuffers();
    private final boolean zeroed;
    /** The debug mode's checks; null when it is off, which is all it costs then. */
    private final DebugChecks debug;
    /** Neither the debug mode nor zeroing: memory is handed out as it is. */
    private final boolean plain;
    /**
     * The one node's page caches, for the fast paths to reach without the node walk; null with
     * several nodes or no caches.
     */
    private final ThreadCaches soleCaches;
    /** By size class: the block order of a class that is a whole block, -1 for a slab class. */
    private final int[] classOrders;
    /**
     * Sizes above the classes that are no power of two frames, as runs of exactly the frames they
     * need ({@link Builder#exactRuns}); null when off.
     */
    private final ExactRuns runs;
    /**
     * The arenas open now. Concurrent, so that a sweep for orphaned arenas needs no monitor (the
     * slow path sweeps, and may run on the reclaimer, which close() joins under the monitor);
     * whoever removes an orphaned arena from it frees its blocks, so none is freed twice.
     */
    private final Set<PagodaArena> openArenas = ConcurrentHashMap.newKeySet();
    /**
     * Guards opening an arena against close()'s sweep of the open ones. Not the allocator's
     * monitor: close() holds that while it joins the reclaimer, whose shrinkers may open arenas.
     */
    private final Object arenaLock = new Object();
    /** Set by close() under arenaLock once it sweeps the open arenas: no arena opens after. */
    private boolean arenasClosing;
    /** Open arenas at which the next arena opened sweeps for orphaned ones; guarded by arenaLock. */
    private int orphanSweepAt = ORPHAN_SWEEP_MINIMUM;
    private final CacheReaper reaper;
    private final Shrinkers shrinkers = new Shrinkers();
    private final Reclaimer reclaimer;
    /** What {@link Builder#bindToPhysicalNodes} did. */
    private final String physicalBinding;
    private final LongAdder directReclaims = new LongAdder();
    private final LongAdder directReclaimedBytes = new LongAdder();
    private final AllocationFailures failures = new AllocationFailures();
    /** Its MXBean, or null; registered by build before the allocator is handed out, unregistered by close. */
    private PageAllocatorBean mxBean;
    private final Backing backing;
    private final int pageShift;
    /** {@code pageSize() - 1}: an offset is a frame's iff these bits are zero. */
    private final long pageMask;
    private final int maxOrder;
    private final long maxBlockBytes;
    private final long regionBytes;
    private final MemorySegment.Scope regionScope;
    private volatile boolean closed;
    /** Whether the region is unmapped; guarded by this. */
    private boolean released;

    private PageAllocator(Builder builder, int cacheBatch, int cacheHigh) {
        this.pageShift = Integer.numberOfTrailingZeros(builder.pageSize);
        this.pageMask = builder.pageSize - 1L;
        this.maxOrder = builder.maxOrder;
        this.maxBlockBytes = (long) builder.pageSize << maxOrder;
        this.regionBytes = builder.capacity;
        this.zeroed = builder.zeroed;
        int frames = (int) (builder.capacity >>> pageShift);
        // Blocks are never larger than the region, so neither need its alignment be.
        int largestOrder = Math.min(maxOrder, 31 - Integer.numberOfLeadingZeros(frames));
        this.region = Region.reserve(frames, pageShift, (long) builder.pageSize << largestOrder,
                builder.backing == Backing.MMAP_NORESERVE);
        this.backing = region.isMapped() ? Backing.MMAP_NORESERVE : Backing.FFM_ARENA;
        this.regionScope = region.memory().scope();
        this.debug = builder.debug ? new DebugChecks(region.memory(), region.base(), builder.debugSampling) : null;
        this.largeMappings = new LargeMappings(builder.pageSize, backing == Backing.MMAP_NORESERVE);
        int pageblockOrder = builder.pageblockOrder >= 0 ? builder.pageblockOrder
                : Math.max(0, Math.min(maxOrder, DEFAULT_PAGEBLOCK_SHIFT - pageShift));
        long minFreeFrames = builder.minFreeBytes >= 0 ? builder.minFreeBytes >>> pageShift
                : Watermarks.defaultMinFrames(frames, pageShift);
        try {
            this.buddy = new BuddySystem(region.descriptors(), new BuddySystem.Config(frames, builder.nodes,
                    builder.nodeDistances, maxOrder, pageblockOrder, builder.groupByLifetime, minFreeFrames));
        } catch (RuntimeException | Error refused) {
            region.close(); // a configuration the nodes refuse (or the heap cannot hold) must not leave the reservation mapped
            throw refused;
        }
        long idle = builder.cacheIdleTimeout.toNanos();
        this.frames = new NodeFrames(buddy, builder.cachedOrders, cacheBatch, cacheHigh, idle);
        this.soleCaches = builder.nodes == 1 && !this.frames.caches().isEmpty() ? this.frames.caches().get(0) : null;
        this.plain = debug == null && !zeroed;
        this.runs = builder.exactRuns ? new ExactRuns(region.descriptors(), buddy) : null;
        this.sizeClasses = new SizeClasses(pageShift, maxOrder);
        this.largestClass = Math.min(sizeClasses.largest(), maxBlockBytes);
        this.classOrders = new int[sizeClasses.count()];
        for (int c = 0; c < classOrders.length; c++) {
            classOrders[c] = sizeClasses.isSlab(c) ? -1 : sizeClasses.pageOrder(c);
        }
        this.slabs = new NodeSlabs(buddy, this.frames.nodeMap(), pageShift, node -> new Slabs(sizeClasses,
                region.descriptors(), region.memory(), pageShift, new SlabFrames(node), idle));
        this.soleSlabs = slabs.sole();
        List<java.util.function.LongConsumer> reapers = new ArrayList<>();
        reapers.add(slabs::reap); // first: what the magazines give back may empty page caches' batches
        reapers.add(this.frames::reap);
        // Poison in freed memory would read as zero once handed back: the debug mode keeps it all.
        if (region.isMapped() && debug == null) {
            long period = CacheReaper.periodNanos(idle);
            int decayEpochs = (int) Math.clamp((builder.purgeDecay.toNanos() + period - 1) / period, 1, Integer.MAX_VALUE >> 1);
            reapers.add(new PurgePass(buddy, decayEpochs, PURGE_LIMIT, region));
        }
        if (builder.hugePages) {
            region.adviseHugePages();
        }
        this.physicalBinding = builder.bindToPhysicalNodes ? bindToPhysicalNodes() : "not asked for";
        this.reaper = new CacheReaper("pagoda-cache-reaper", reapers, idle);
        // The slabs' kept empty slabs are the first thing to give back under pressure (the kernel's
        // slab shrinkers); what the shrinker is asked for is more than they hold, so it gives all.
        shrinkers.register(slabs, slabs::emptySlabBytes, bytes -> slabs.releaseEmptySlabs());
        // What the shrinkers free on the reclaimer's thread goes into its caches: drained after each
        // round, it reaches the zones, whose shortfall is what the reclaimer measures.
        this.reclaimer = new Reclaimer("pagoda-reclaimer", buddy, shrinkers, pageShift, this::drainCaches);
        buddy.onLowWatermark(reclaimer::wake);
    }

    /** Blocks for a node's slabs, from that node alone: the page allocation fast path, without its failure report. */
    private final class SlabFrames implements FrameSource {
        private final int node;

        SlabFrames(int node) {
            this.node = node;
        }

        /**
         * Drains nothing: a node that refuses sends the policy's walk on to the next node
         * ({@link NodeSlabs}), and only once every node refused does the slow path drain the
         * caches and try again ({@link #allocateObjectSlow}).
         */
        @Override
        public int allocate(int order) {
            int pfn = frames.allocateOn(node, order, SLAB_LIFETIME, false);
            if (pfn == PageDescriptors.NO_FRAME && shrinkers.inReclaim()) {
                pfn = frames.allocateOn(node, order, SLAB_LIFETIME, true); // freeing memory never waits for memory
            }
            if (pfn == PageDescriptors.NO_FRAME) {
                return pfn;
            }
            frames.noteNewSlab(); // a new slab, not each object, takes an INTERLEAVE turn: one per allocation
            if (debug != null) {
                debug.claimed((long) pfn << pageShift, blockSize(order)); // carving writes into it
            }
            return pfn;
        }

        @Override
        public void free(int pfn, int order) {
            int result = frames.free(pfn, order);
            if (result != Zone.FREED) {
                throw new IllegalStateException("a slab's block at pfn " + pfn + " of order " + order
                        + " could not be freed: descriptor info 0x" + Integer.toHexString(result));
            }
        }
    }

    /** A builder with the defaults: 4 KiB pages, max order 10, mmap where available. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Allocates a block of {@code 2^order} frames.
     *
     * @return the address of the block's first byte, aligned to the block's size
     * @throws IllegalArgumentException if order is outside {@code [0, maxOrder()]}
     * @throws OutOfPagesException      if no free block of that order or larger exists
     * @throws IllegalStateException    if the allocator is closed
     */
    public long allocatePages(int order) {
        ensureOpen();
        int pfn = order >= 0 ? fromCache(order) : PageDescriptors.NO_FRAME;
        if (pfn != PageDescriptors.NO_FRAME) {
            return region.base() + ((long) pfn << pageShift);
        }
        return allocatePages(order, Lifetime.SHORT_LIVED);
    }

    /**
     * Allocates a block of {@code 2^order} frames that is expected to live as {@code lifetime}
     * says; see {@link Lifetime}. Short-lived blocks of small orders come from the per-thread
     * caches, the others from the zone under its lock. Free it with {@link #freePages}.
     *
     * @return the address of the block's first byte, aligned to the block's size
     * @throws IllegalArgumentException if order is outside {@code [0, maxOrder()]}
     * @throws NullPointerException     if lifetime is null
     * @throws OutOfPagesException      if no free block of that order or larger exists
     * @throws IllegalStateException    if the allocator is closed
     */
    public long allocatePages(int order, Lifetime lifetime) {
        Objects.requireNonNull(lifetime, "lifetime");
        ensureOpen();
        checkOrder(order);
        return region.base() + takeFrames(order, lifetime.type, -1);
    }

    /**
     * A block if the zones have one free now, without the slow path (no drain, no reclaim, no
     * failure report): the kernel's {@code __GFP_NORETRY} try at a preferred order, before a
     * smaller one with the slow path. For the arenas; 0 if none.
     */
    long allocatePagesIfFree(int order, Lifetime lifetime) {
        ensureOpen();
        checkOrder(order);
        int pfn = allocateFast(order, lifetime.type);
        return pfn == PageDescriptors.NO_FRAME ? 0 : region.base() + prepared((long) pfn << pageShift, order);
    }

    /**
     * Allocates as {@link #allocatePages(int, Lifetime)} does, but answers 0 instead of throwing
     * when no block can be found, after the same reclaim: for callers that shed load rather than
     * fail (drop a connection, answer 503).
     *
     * @return the address of the block, or 0 if there is no memory for it
     * @throws IllegalArgumentException if order is outside {@code [0, maxOrder()]}
     * @throws IllegalStateException    if the allocator is closed
     */
    public long tryAllocatePages(int order, Lifetime lifetime) {
        Objects.requireNonNull(lifetime, "lifetime");
        ensureOpen();
        checkOrder(order);
        int pfn = findFrames(order, lifetime.type, false);
        return pfn == PageDescriptors.NO_FRAME ? 0 : region.base() + prepared((long) pfn << pageShift, order);
    }

    /**
     * Allocates a short-lived block of {@code 2^order} frames for work that must not fail for
     * want of memory: memory that lets the program free memory, or answer an error. It may use
     * the memory the min watermark keeps back from ordinary allocations (the kernel's
     * {@code __GFP_HIGH}, {@code ALLOC_NO_WATERMARKS}), and it comes first from the reserve: the
     * pageblocks that served earlier critical allocations of more than one frame, up to 1% of
     * the memory, which nothing else uses until an ordinary allocation would fail (the kernel's
     * highatomic reserve). Free it with {@link #freePages}.
     *
     * @return the address of the block, aligned to its size
     * @throws IllegalArgumentException if order is outside {@code [0, maxOrder()]}
     * @throws OutOfPagesException      if even the reserve below min has no block of that order
     * @throws IllegalStateException    if the allocator is closed
     */
    public long allocateCritical(int order) {
        ensureOpen();
        checkOrder(order);
        int pfn = frames.allocate(order, Lifetimes.RESERVE, true);
        if (pfn == PageDescriptors.NO_FRAME) {
            pfn = allocateSlow(order, Lifetimes.RESERVE, true);
            if (pfn == PageDescriptors.NO_FRAME) {
                throw outOfPages(order, -1);
            }
        }
        return region.base() + prepared((long) pfn << pageShift, order);
    }

    /** Number of nodes the region is cut into; see {@link Builder#nodes}. */
    public int nodes() {
        return buddy.nodeCount();
    }

    /**
     * The node the current thread allocates from first: the one it, or its thread group, is
     * bound to, or else the one it was given in turn at its first allocation.
     */
    public int currentNode() {
        return frames.currentNode();
    }

    /**
     * Binds a thread group to a node: threads of the group, and of its subgroups, that have not
     * allocated yet will allocate from {@code node} first. (Virtual threads all belong to one
     * group; bind them one by one with {@link #bindCurrentThread} or {@link #runOnNode}.)
     *
     * {@snippet lang=java :
     * ThreadGroup ioThreads = new ThreadGroup("io");
     * pages.bindThreadGroup(ioThreads, 1);
     * Thread.ofPlatform().group(ioThreads).start(server::run);   // allocates from node 1
     * }
     *
     * @throws IllegalArgumentException if node is outside {@code [0, nodes())}
     */
    public void bindThreadGroup(ThreadGroup group, int node) {
        frames.nodeMap().bindThreadGroup(group, node);
    }

    /**
     * Binds the current thread to {@code node} with {@code policy}, for its allocations from now on.
     *
     * @throws IllegalArgumentException if node is outside {@code [0, nodes())}
     */
    public void bindCurrentThread(int node, MemoryPolicy policy) {
        frames.nodeMap().bindCurrentThread(node, policy);
    }

    /**
     * Runs {@code work} on the current thread bound to {@code node} with {@code policy}, and puts
     * back the thread's binding afterwards, even if work throws: a scope of memory placement.
     *
     * {@snippet lang=java :
     * pages.runOnNode(0, MemoryPolicy.INTERLEAVE, () -> table = buildTable(pages));  // spread over every node
     * }
     *
     * @throws IllegalArgumentException if node is outside {@code [0, nodes())}
     */
    public void runOnNode(int node, MemoryPolicy policy, Runnable work) {
        Objects.requireNonNull(work, "work");
        NodeMap.Binding previous = frames.nodeMap().bindCurrentThread(node, policy);
        try {
            work.run();
        } finally {
            frames.nodeMap().restore(previous);
        }
    }

    /**
     * What {@link Builder#bindToPhysicalNodes} did: which node went to which NUMA node of the
     * machine, or why nothing was bound (one NUMA node, or not asked for).
     */
    public String physicalBinding() {
        return physicalBinding;
    }

    private String bindToPhysicalNodes() {
        int[] online = NativeMemory.onlineNodes();
        if (online.length == 1) {
            return "one NUMA node on this machine (node " + online[0] + "): nothing to bind";
        }
        StringBuilder done = new StringBuilder();
        for (int node = 0; node < buddy.nodeCount(); node++) {
            Zone zone = buddy.zone(node);
            int physical = online[node % online.length];
            region.bindToNode(zone.startPfn(), zone.endPfn() - zone.startPfn(), physical);
            done.append(node == 0 ? "" : ", ").append("node ").append(node).append(" -> NUMA node ").append(physical);
        }
        return done.toString();
    }

    /**
     * Registers a cache that can give memory back when the allocator runs low; see
     * {@link Shrinker}.
     *
     * @throws IllegalArgumentException if it is registered already
     * @throws IllegalStateException    if the allocator is closed
     */
    public void registerShrinker(Shrinker shrinker) {
        Objects.requireNonNull(shrinker, "shrinker");
        ensureOpen();
        shrinkers.register(shrinker, shrinker::freeableBytes, shrinker::shrink);
    }

    /**
     * Unregisters a shrinker, and waits until no call of it runs on any thread (the kernel's
     * {@code unregister_shrinker}): once this returns, it is not asked again and nothing of it
     * runs, so its owner may free what it holds. Called from inside the shrinker's own
     * {@link Shrinker#shrink}, it waits for the other threads' calls only.
     *
     * @return false if it was not registered
     */
    public boolean unregisterShrinker(Shrinker shrinker) {
        return shrinkers.unregister(shrinker);
    }

    /**
     * Frees a block given its address: one that {@link #allocatePages(int)} returned. (The block
     * under a segment from {@link #allocate(long)} is freed this way too, but prefer
     * {@link #free(MemorySegment)} for those: nothing stops a later access through the segment.)
     *
     * @param address the address {@code allocatePages} returned
     * @param order   the order it was allocated with
     * @throws IllegalArgumentException if order is outside {@code [0, maxOrder()]}, if the address
     *         is not in this allocator's region, is not the head of an allocated block, or the block
     *         was allocated with another order
     * @throws IllegalStateException    if the block is free already (a double free), or if the
     *         allocator is closed. A second free of a block that has since been merged with its
     *         buddy finds no head there and throws IllegalArgumentException instead. Two frees of
     *         one block racing on two threads are a data race in the caller, and are not caught.
     */
    public void freePages(long address, int order) {
        ensureOpen();
        checkOrder(order);
        if (!region.isFrameAddress(address)) {
            throw notAFrame(address);
        }
        if (debug != null) {
            debugFreeBlock(address, order, -1);
            return;
        }
        freeBlock(address, order, -1);
    }

    /**
     * Allocates {@code byteSize} bytes, of any size: the one call for buffers and objects alike.
     * The memory is not zeroed.
     * <ul>
     *   <li>up to four pages (16 KiB with 4 KiB pages): an object of the smallest size class that
     *       holds it, cut from a slab ({@link SizeClasses}: at most 11% lost above 128 B), 16-byte
     *       aligned; a class whose size is a whole block (4, 8, 16 KiB) is that block;</li>
     *   <li>up to the largest block ({@code pageSize() << maxOrder()}): the smallest block that
     *       holds it, aligned to its own size; with {@link Builder#exactRuns}, only the frames it
     *       needs, cut from that block;</li>
     *   <li>larger: a mapping of its own, page aligned, outside the region (and outside
     *       {@link #capacity()}), unmapped when freed.</li>
     * </ul>
     * A size of zero is served as one byte, and gets a segment of zero bytes.
     *
     * @return a segment of exactly {@code byteSize} bytes; it becomes inaccessible when the
     *         allocator is closed (a large mapping's also when it is freed)
     * @throws IllegalArgumentException if byteSize is negative
     * @throws OutOfPagesException      if no free block large enough exists, even after every cache
     *                                  and empty slab was given back
     * @throws OutOfMemoryError         if the operating system refuses the mapping of a size above
     *                                  the largest block (its address space is smaller than 2^47
     *                                  bytes, less what is mapped already); nothing changes
     * @throws IllegalStateException    if the allocator is closed
     */
    @Override
    public MemorySegment allocate(long byteSize) {
        ensureOpen();
        if (byteSize >= 0 && byteSize <= largestClass) {
            return region.memory().asSlice(allocateClass(byteSize), byteSize);
        }
        return allocateBlock(byteSize, 0);
    }

    /**
     * The fast path of both {@link #allocate(long)} and {@link #allocateAddress}, for a size of a
     * size class: an object from the thread's magazine, or a block from its page cache.
     *
     * @return the offset in the region
     */
    private long allocateClass(long byteSize) {
        int sizeClass = SizeClasses.classOf(Math.max(byteSize, 1));
        int order = classOrders[sizeClass];
        if (order < 0) {
            return takeObject(sizeClass, byteSize);
        }
        int pfn = fromCache(order);
        if (pfn != PageDescriptors.NO_FRAME) {
            return (long) pfn << pageShift;
        }
        return takeFrames(order, SHORT_LIVED, byteSize);
    }

    /**
     * The shortest way to a short-lived block: the thread's page cache (with several nodes, the
     * caches its policy picks), when memory is handed out as it is. NO_FRAME, with nothing
     * changed, when this way does not apply or the caches and their zones are empty; the caller
     * then takes the long way, which checks, routes, reclaims and fails.
     */
    private int fromCache(int order) {
        ThreadCaches caches = soleCaches;
        if (caches != null && plain && order < caches.cachedOrders()) {
            return caches.allocate(order);
        }
        if (caches == null && plain && order < frames.cachedOrders()) {
            return frames.allocateCached(order); // several nodes: the thread's policy picks the caches
        }
        return PageDescriptors.NO_FRAME;
    }

    /**
     * Allocates {@code byteSize} bytes aligned to {@code byteAlignment}: the {@link SegmentAllocator}
     * method, through which every {@code allocateFrom} of the JDK's interface is served. Alignment
     * up to 16 bytes is what {@link #allocate(long)} gives; up to the page size, a size class whose
     * objects are multiples of it, or a block; above, a block of at least the alignment's size.
     * Free the segment with {@link #free(MemorySegment)}.
     *
     * @throws IllegalArgumentException if byteSize is negative, byteAlignment is not a positive
     *         power of two, or is larger than the largest block (or than the page size, for sizes
     *         larger than the largest block)
     * @throws OutOfPagesException      as for {@link #allocate(long)}
     * @throws IllegalStateException    if the allocator is closed
     */
    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        ensureOpen(); // "closed" comes first, as for every other call
        checkAlignment(byteAlignment);
        if (byteAlignment <= SizeClasses.QUANTUM) {
            return allocate(byteSize);
        }
        int c = alignedClass(byteSize, byteAlignment);
        if (c >= 0) {
            return sizeClasses.isSlab(c) ? allocateObject(c, byteSize)
                    : region.memory().asSlice(takeFrames(sizeClasses.pageOrder(c), SHORT_LIVED, byteSize), byteSize);
        }
        return allocateBlock(byteSize, orderOf(byteAlignment));
    }

    /**
     * The size class that {@link #allocate(long, long)} serves a request from: the first whose
     * objects are multiples of the alignment (slabs start on a page); -1 when the request is a
     * block of at least the alignment's size instead.
     *
     * @throws IllegalArgumentException if no block or mapping can be so aligned
     */
    private int alignedClass(long byteSize, long byteAlignment) {
        if (byteSize >= 0 && byteSize <= largestClass) {
            for (int c = SizeClasses.classOf(Math.max(byteSize, 1)); c < sizeClasses.count(); c++) {
                if (sizeClasses.size(c) % byteAlignment == 0) {
                    return c;
                }
            }
        }
        if (byteAlignment > maxBlockBytes || byteSize > maxBlockBytes && byteAlignment > pageSize()) {
            throw new IllegalArgumentException("byteAlignment " + byteAlignment + " is larger than "
                    + (byteSize > maxBlockBytes ? "the page size, " + pageSize() + " bytes, which is all a mapping larger than the largest block gets"
                    : "the largest block, " + maxBlockBytes + " bytes"));
        }
        return -1;
    }

    private MemorySegment allocateObject(int sizeClass, long byteSize) {
        return region.memory().asSlice(takeObject(sizeClass, byteSize), byteSize);
    }

    /** An object of a slab class, checked and zeroed as the builder asked; its offset. */
    private long takeObject(int sizeClass, long byteSize) {
        Slabs sole = soleSlabs;
        long offset = sole != null ? sole.allocate(sizeClass) : slabs.allocate(sizeClass);
        if (offset == Slabs.NO_OBJECT) {
            offset = allocateObjectSlow(sizeClass, byteSize);
        }
        return plain ? offset : preparedBytes(offset, sizeClasses.size(sizeClass));
    }

    /** A block, checked and zeroed as the builder asked; its offset. */
    private long takeFrames(int order, int lifetime, long requestedBytes) {
        return prepared((long) allocateFrames(order, lifetime, requestedBytes) << pageShift, order);
    }

    /**
     * The frames that hold byteSize, in a block of at least {@code minOrder}: the block itself
     * when byteSize needs all of it or runs are off, else an exact run of the frames it needs cut
     * from it ({@link ExactRuns}), aligned as the block is. Checked and zeroed as the builder asked.
     *
     * @return the offset in the region
     */
    private long takeFramesFor(long byteSize, int minOrder) {
        int order = Math.max(minOrder, orderForSize(byteSize));
        int length = framesFor(byteSize);
        if (runs == null || length == 1 << order) {
            return takeFrames(order, SHORT_LIVED, byteSize);
        }
        int head = allocateFrames(order, SHORT_LIVED, byteSize);
        runs.cut(head, order, length, SHORT_LIVED);
        return preparedBytes((long) head << pageShift, (long) length << pageShift);
    }

    /** The frames that hold byteSize, at least one: an exact run's length. For sizes up to the largest block. */
    private int framesFor(long byteSize) {
        return (int) Math.max(1, (byteSize + pageSize() - 1) >>> pageShift);
    }

    /** The block at offset, checked and zeroed as the builder asked; its offset. */
    private long prepared(long offset, int order) {
        return preparedBytes(offset, blockSize(order));
    }

    /** The object, block or run of {@code bytes} at offset, checked and zeroed as the builder asked; its offset. */
    private long preparedBytes(long offset, long bytes) {
        if (debug != null) {
            debug.allocated(offset, bytes);
        }
        if (zeroed) {
            region.memory().asSlice(offset, bytes).fill((byte) 0);
        }
        return offset;
    }

    /** A block of at least {@code minOrder} that holds byteSize, or a mapping of its own above the largest block. */
    private MemorySegment allocateBlock(long byteSize, int minOrder) {
        if (byteSize > maxBlockBytes) {
            return allocateLarge(byteSize);
        }
        return region.memory().asSlice(takeFramesFor(byteSize, minOrder), byteSize);
    }

    /** No block for a new slab: give back what the caches and empty slabs hold, and try once more. */
    private long allocateObjectSlow(int sizeClass, long byteSize) {
        trim();
        long offset = slabs.allocate(sizeClass);
        int order = sizeClasses.slabOrder(sizeClass);
        if (offset == Slabs.NO_OBJECT && !shrinkers.inReclaim()) {
            offset = retryAfterDirectReclaim(order, () -> slabs.allocate(sizeClass), Slabs.NO_OBJECT);
        }
        if (offset == Slabs.NO_OBJECT && buddy.unreserve() > 0) {
            offset = slabs.allocate(sizeClass); // the reserve for critical allocations gives way last
        }
        if (offset == Slabs.NO_OBJECT) {
            failures.record(order, SLAB_LIFETIME, false, buddy, pageShift);
            throw new OutOfPagesException("no free block of order " + order + " (" + blockSize(order)
                    + " bytes) for a slab of " + sizeClasses.size(sizeClass) + "-byte objects, for a request of "
                    + byteSize + " bytes; " + freeElsewhere(),
                    order, BuddyInfo.format(buddy), zoneinfo());
        }
        return offset;
    }

    /** Above the largest block: a mapping of its own ({@link LargeMappings}). */
    private MemorySegment allocateLarge(long byteSize) {
        MemorySegment mapping = largeMappings.allocate(byteSize);
        if (closed) { // close() ran meanwhile and may have missed it
            largeMappings.free(mapping.address(), describeRegion());
            throw closedException();
        }
        if (debug != null) {
            debug.allocatedLarge(mapping.address(), byteSize);
        }
        return mapping;
    }

    /**
     * Frees a segment that {@link #allocate(long)} or {@link #allocate(long, long)} returned: the
     * object or block that starts at the segment's address, which the segment must fit in. (So a
     * slice at its start frees it too; a slice that starts inside it is refused.)
     *
     * @throws IllegalArgumentException if the segment is not from this allocator (another
     *         allocator's, a heap segment, a native segment made from an address), does not start
     *         at an allocated object or block, or is larger than the object, block or mapping there
     * @throws IllegalStateException    if it is free already (a double free), or if the allocator
     *         is closed. A double free of a block merged since with its buddy throws
     *         IllegalArgumentException instead; two frees racing on two threads are a data race in
     *         the caller, and are not caught. A segment whose scope is closed is refused as a
     *         double free too: a mapping's, freed already, cannot be told from one of a closed
     *         arena.
     */
    public void free(MemorySegment segment) {
        Objects.requireNonNull(segment, "segment");
        // Only slices of the region share its scope: a heap segment, another allocator's, or one
        // made from a raw address has another. (Scopes are compared by identity: a slice keeps its
        // parent's session object.)
        if (segment.scope() != regionScope) {
            freeLarge(segment);
            return;
        }
        // Only numbers go on: this method stays small enough to inline into its caller, so that
        // the segment does not escape and the JIT can do without it (no heap allocation per pair).
        freeInRegion(segment.address() - region.base(), segment.byteSize());
    }

    private void freeInRegion(long offset, long byteSize) {
        ensureOpen();
        if (debug != null) {
            debugFree(offset, byteSize);
            return;
        }
        if (offset < regionBytes && freeCachedBlock(offset, byteSize)) {
            return;
        }
        int result = offset < regionBytes ? slabsOf(offset).free(offset, byteSize) : Slabs.NOT_AN_OBJECT;
        if (result != Slabs.FREED) {
            freeBlockOrRefuse(offset, byteSize, result);
        }
    }

    /**
     * The debug mode's free: checks first, changing nothing, then poisons and records what is
     * freed, then frees it; a refusal names where the memory was freed before.
     *
     * @param byteSize the size freed, or -1 when freed by address
     */
    private void debugFree(long offset, long byteSize) {
        long address = region.base() + offset;
        int checked = offset < regionBytes ? slabs.check(offset, Math.max(byteSize, 0)) : -Slabs.NOT_AN_OBJECT;
        if (checked >= 0) {
            if (!debug.isLive(address)) { // a use after free overwrote the marker: the record still knows
                throw withLastFree(rejectedObjectFree(address, byteSize, Slabs.ALREADY_FREE), address);
            }
            debug.freeing(offset, sizeClasses.size(checked), true);
            slabs.free(offset, Math.max(byteSize, 0));
            return;
        }
        if (checked != -Slabs.NOT_IN_A_SLAB) {
            throw withLastFree(offset < regionBytes ? rejectedObjectFree(address, byteSize, -checked)
                    : notABlock(address, byteSize), address);
        }
        if (!region.isFrameAddress(address)) {
            throw notABlock(address, byteSize);
        }
        try {
            if (freeRun(address, byteSize)) {
                return;
            }
        } catch (RuntimeException refused) {
            throw withLastFree(refused, address);
        }
        debugFreeBlock(address, orderToFree(address, byteSize), byteSize);
    }

    private void debugFreeBlock(long address, int order, long byteSize) {
        int info = region.descriptors().info(region.pfn(address));
        if (info == PageDescriptors.info(PageDescriptors.ALLOCATED, order, PageDescriptors.lifetime(info))) {
            debug.freeing(address - region.base(), blockSize(order), false);
        }
        try {
            freeBlock(address, order, byteSize);
        } catch (RuntimeException refused) {
            throw withLastFree(refused, address);
        }
    }

    /**
     * A free refused before it reached the allocator (a ByteBuffer's release, a child's free), with,
     * in the debug mode, where the memory at the address was last freed: so that a second release or
     * free names the first, as a double free of a segment does.
     */
    RuntimeException refusedFree(RuntimeException refused, long address) {
        return debug == null ? refused : withLastFree(refused, address);
    }

    /** A refusal, with where the memory was last freed appended: the debug mode's double-free report. */
    private RuntimeException withLastFree(RuntimeException refused, long address) {
        String lastFree = debug.lastFree(address);
        if (lastFree.isEmpty()) {
            return refused;
        }
        return refused instanceof IllegalStateException
                ? new IllegalStateException(refused.getMessage() + lastFree, refused)
                : new IllegalArgumentException(refused.getMessage() + lastFree, refused);
    }

    /**
     * The order a free of {@code byteSize} bytes at a frame address means: a block's head knows its
     * order, and a segment that fits frees it, whatever the size asked (-1: freed by address, which
     * fits any block). Anything else gets the size's own order, for freeBlock's refusal to explain.
     */
    private int orderToFree(long address, long byteSize) {
        int info = region.descriptors().info(region.pfn(address));
        return PageDescriptors.state(info) == PageDescriptors.ALLOCATED && byteSize <= blockSize(PageDescriptors.order(info))
                ? PageDescriptors.order(info) : byteSize < 0 ? 0 : orderOf(Math.max(byteSize, 1));
    }

    /**
     * The fast free: a short-lived block of a cached order that holds {@code byteSize}, straight
     * into the thread's page cache, its head's descriptor read once. False, with nothing changed,
     * for anything else (an object, a larger block, another node's, a bad free), which the caller
     * frees the long way or refuses. The caller checked the offset lies in the region.
     */
    private boolean freeCachedBlock(long offset, long byteSize) {
        ThreadCaches caches = soleCaches;
        if ((offset & pageMask) != 0) {
            return false;
        }
        int pfn = (int) (offset >>> pageShift);
        if (caches == null) {
            caches = frames.cachesOf(pfn); // several nodes: the caches of the block's own node
            if (caches == null) {
                return false;
            }
        }
        return caches.freeIfCached(pfn, byteSize <= 0 ? 0 : orderOf(byteSize));
    }

    /** The slabs of the node whose memory holds an offset in the region. */
    private Slabs slabsOf(long offset) {
        Slabs sole = soleSlabs;
        return sole != null ? sole : slabs.of(offset);
    }

    /** Not a slab object: a page block, or a bad free, as the slab layer's result says. */
    private void freeBlockOrRefuse(long offset, long byteSize, int slabResult) {
        ensureOpen(); // a close since the caller's check leaves descriptors that would make a refusal lie
        long address = region.base() + offset;
        if (slabResult != Slabs.NOT_IN_A_SLAB) {
            throw offset < regionBytes ? rejectedObjectFree(address, byteSize, slabResult) : notABlock(address, byteSize);
        }
        if (!region.isFrameAddress(address)) {
            throw notABlock(address, byteSize);
        }
        if (!freeRun(address, byteSize)) {
            freeBlock(address, orderToFree(address, byteSize), byteSize);
        }
    }

    /**
     * Frees the exact run that starts at a frame address, if one does; refuses a free inside a
     * run, or one larger than the run.
     *
     * @return false if the address is no run's, which the caller frees as a block
     */
    private boolean freeRun(long address, long byteSize) {
        if (runs == null) {
            return false;
        }
        int pfn = region.pfn(address);
        int length = runs.lengthAt(pfn);
        if (length == ExactRuns.INSIDE_A_RUN) {
            throw new IllegalArgumentException("0x" + Long.toHexString(address) + " is inside a run of frames that "
                    + "allocate handed out; free the run from its start");
        }
        if (length == 0) {
            return false;
        }
        long runBytes = (long) length << pageShift;
        if (byteSize > runBytes) {
            throw new IllegalArgumentException("a segment of " + byteSize + " bytes at 0x" + Long.toHexString(address)
                    + " is larger than the run of " + length + " frames (" + runBytes + " bytes) there");
        }
        if (debug != null) {
            debug.freeing(address - region.base(), runBytes, false);
        }
        runs.free(pfn, length);
        return true;
    }

    private void freeLarge(MemorySegment segment) {
        ensureOpen();
        if (!largeMappings.holds(segment)) {
            // A freed mapping's segments keep its closed scope; nothing else of ours has one.
            throw segment.scope().isAlive() ? notOurs(segment) : noLongerAlive(segment);
        }
        // A segment made larger (reinterpret keeps the scope) is refused as it is over a block.
        MemorySegment mapping = largeMappings.pagesAt(segment.address());
        if (mapping != null && segment.byteSize() > mapping.byteSize()) {
            throw new IllegalArgumentException("a segment of " + segment.byteSize() + " bytes at 0x"
                    + Long.toHexString(segment.address()) + " is larger than the mapping of " + mapping.byteSize() + " bytes there");
        }
        freeMapping(segment.address());
    }

    private void freeMapping(long address) {
        try {
            largeMappings.free(address, describeRegion());
        } catch (IllegalArgumentException notAMapping) {
            ensureOpen(); // a close since the caller's check unmapped it: say so, not "not ours"
            throw notAMapping;
        }
        forgetMapping(address);
    }

    private void forgetMapping(long address) {
        if (debug != null) {
            debug.freeingLarge(address);
        }
    }

    /**
     * Allocates {@code byteSize} bytes as {@link #allocate(long)} does, and returns the address
     * alone: no object on the heap, for code that keeps addresses itself (a pool of buffers that
     * wraps them, an off-heap index). Free it with {@link #freeAddress(long)}. Nothing checks an
     * access through an address; prefer segments where a bounds check is worth its nanosecond.
     *
     * @throws IllegalArgumentException if byteSize is negative
     * @throws OutOfPagesException      as for {@link #allocate(long)}
     * @throws IllegalStateException    if the allocator is closed
     */
    public long allocateAddress(long byteSize) {
        ensureOpen();
        if (byteSize >= 0 && byteSize <= largestClass) {
            return region.base() + allocateClass(byteSize);
        }
        if (byteSize > maxBlockBytes) {
            return allocateLarge(byteSize).address();
        }
        return region.base() + takeFramesFor(byteSize, 0);
    }

    /**
     * Frees what {@link #allocateAddress(long)} (or {@link #allocate(long)}) handed out, from its
     * address alone: the object or block that starts there, or the mapping.
     *
     * @throws IllegalArgumentException if nothing this allocator handed out starts at the address;
     *         so also for a second free of a mapping (above the largest block), whose address,
     *         once unmapped, cannot be told from one never handed out
     * @throws IllegalStateException    if it is free already (a double free), or the allocator is
     *         closed; as for {@link #free(MemorySegment)}, racing double frees are not caught
     */
    public void freeAddress(long address) {
        ensureOpen();
        long offset = address - region.base();
        if (offset >= 0 && offset < regionBytes) {
            if (debug != null) {
                debugFree(offset, -1);
                return;
            }
            if (freeCachedBlock(offset, 0)) {
                return;
            }
            int result = slabsOf(offset).free(offset, 0);
            if (result != Slabs.FREED) {
                freeBlockOrRefuse(offset, -1, result);
            }
            return;
        }
        freeMapping(address);
    }

    /**
     * The memory that holds what {@link #allocateAddress(long)} handed out at {@code address}, as
     * a segment that lives exactly as long as that memory: the whole region, until the allocator
     * is closed; or, for an allocation larger than the largest block, its own mapping (all of its
     * pages), until it is freed. Index it with {@code address - segment.address()}.
     *
     * {@snippet lang=java :
     * long address = pages.allocateAddress(1500);
     * MemorySegment memory = pages.memoryOf(address);        // the region: made once, no heap
     * long offset = address - memory.address();
     * memory.set(ValueLayout.JAVA_INT, offset, 42);
     * pages.close();
     * memory.get(ValueLayout.JAVA_INT, offset);               // IllegalStateException, not a crash
     * }
     *
     * <p>For code that keeps addresses (a pool of buffers, such as the Netty module's) and wants
     * the JDK's lifetime check on every access, at no heap cost per allocation: an access after
     * the memory is gone throws {@link IllegalStateException} where one at the bare address would
     * crash the JVM, even when it races with the close. The segment checks nothing finer: an
     * offset inside another allocation in the region is allowed, so the caller keeps its accesses
     * within its own, as it would with the address.
     *
     * @throws IllegalArgumentException if the address is neither in the region nor the start of a
     *         mapping of this allocator that is still allocated
     * @throws IllegalStateException    if the allocator is closed
     */
    public MemorySegment memoryOf(long address) {
        ensureOpen();
        long offset = address - region.base();
        if (offset >= 0 && offset < regionBytes) {
            return region.memory();
        }
        MemorySegment mapping = largeMappings.pagesAt(address);
        if (mapping == null) {
            ensureOpen(); // a close since the first check freed every mapping: say so, not "not ours"
            throw new IllegalArgumentException("0x" + Long.toHexString(address) + " is neither in this allocator's region "
                    + describeRegion() + " nor the start of one of its mappings still allocated");
        }
        return mapping;
    }

    /**
     * Frees the block at a frame address, through the caches for cached orders.
     *
     * @param byteSize the size of the segment freed, for the failure's message; -1 when freed by order
     */
    private void freeBlock(long address, int order, long byteSize) {
        int pfn = region.pfn(address);
        // With one node, a cached order goes straight to its caches: the node walk's loads and
        // checks are a nanosecond of a 16 ns pair.
        ThreadCaches caches = soleCaches;
        int result = caches != null && order < caches.cachedOrders() ? caches.free(pfn, order) : frames.free(pfn, order);
        if (result != Zone.FREED) {
            throw rejectedFree(address, result, byteSize < 0 ? "order " + order
                    : "a segment of " + byteSize + " bytes (order " + order + ")");
        }
    }

    /**
     * Allocates a direct {@link ByteBuffer} of {@code capacity} bytes, in place of
     * {@link ByteBuffer#allocateDirect}: position 0, limit and capacity the size asked for (not
     * the size of the object or block behind it), big-endian, not zeroed unless the allocator is
     * {@linkplain Builder#zeroed zeroed}. Give it back with {@link #release(ByteBuffer)}; nothing
     * frees it when it becomes unreachable.
     *
     * {@snippet lang=java :
     * ByteBuffer buffer = pages.allocateBuffer(1500);
     * channel.read(buffer);
     * // ...
     * pages.release(buffer);
     * }
     *
     * <p>After release, the memory goes to the next allocation, and a ByteBuffer cannot be revoked
     * cheaply: a buffer (or a slice or duplicate of it) used after its release reads and writes
     * whatever now lives there, as with any pool. It stays inside the region, so it never crashes
     * the JVM; only a large buffer (above the largest block), whose mapping is released, becomes
     * inaccessible. Each buffer costs a map entry, so that a release can check the buffer is one
     * handed out; the segment API ({@link #allocate(long)}) costs none.
     *
     * @throws IllegalArgumentException if capacity is negative, or more than the JDK wraps as a
     *         ByteBuffer ({@code Integer.MAX_VALUE - 8} bytes); nothing is allocated
     * @throws OutOfPagesException      as for {@link #allocate(long)}
     * @throws IllegalStateException    if the allocator is closed
     */
    public ByteBuffer allocateBuffer(int capacity) {
        if (capacity > LiveBuffers.MAX_CAPACITY) {
            // Checked before allocating: asByteBuffer refuses such a segment, and the mapping
            // allocated for it would be left out with nothing to release it by.
            ensureOpen();
            throw new IllegalArgumentException("capacity " + capacity + " is more than a ByteBuffer can have here: "
                    + LiveBuffers.MAX_CAPACITY + " bytes, the most the JDK wraps; use allocate(long) for a segment");
        }
        MemorySegment segment = allocate(capacity);
        ByteBuffer buffer = liveBuffers.handOut(segment);
        if (debug != null) {
            debug.watch(buffer, segment.address(), capacity);
        }
        return buffer;
    }

    /**
     * Gives back a buffer that {@link #allocateBuffer(int)} returned, whatever its position and limit.
     *
     * @throws IllegalArgumentException if the buffer was not handed out by this allocator (a heap
     *         buffer, {@code allocateDirect}'s, another allocator's), or is a slice or duplicate of
     *         one (release the buffer itself)
     * @throws IllegalStateException    if it was released already, or the allocator is closed
     */
    public void release(ByteBuffer buffer) {
        ensureOpen();
        MemorySegment whole;
        try {
            whole = liveBuffers.takeBack(buffer, segment -> segment.scope() == regionScope || largeMappings.holds(segment));
        } catch (IllegalArgumentException | IllegalStateException refused) {
            // Refused before free sees it: the debug mode's report of the first free is added here.
            throw buffer.isDirect() ? refusedFree(refused, MemorySegment.ofBuffer(buffer.duplicate().clear()).address()) : refused;
        }
        try {
            free(whole);
        } catch (RuntimeException refused) {
            // The memory stays allocated (an I/O operation holds a large buffer's mapping): so must
            // the buffer stay out, or no later release could give the memory back.
            liveBuffers.putBack(whole, buffer);
            throw refused;
        }
    }

    /**
     * A new confined arena over this allocator: a bump-pointer {@link Arena} whose segments are
     * cut from blocks it takes from the allocator, for the one thread that made it. Closing it
     * frees everything it handed out at once and makes every segment of it inaccessible, as a
     * JDK arena does; so does closing the allocator. If its thread dies with it open, its blocks
     * go back at the next {@link #trim()}, the next allocation that runs short of memory, or once
     * the open arenas have doubled in number, whichever comes first. Cheap to allocate from (no lock: the
     * owner's bump pointer), and a million allocations cost a few dozen blocks.
     *
     * {@snippet lang=java :
     * try (Arena table = pages.newConfinedArena()) {
     *     MemorySegment row = table.allocate(ValueLayout.JAVA_LONG, 4);
     *     // ... millions more, dropped together
     * }
     * }
     *
     * @throws IllegalStateException if the allocator is closed
     */
    public Arena newConfinedArena() {
        return openArena(false);
    }

    /**
     * A new shared arena over this allocator: as {@link #newConfinedArena()}, usable and closable
     * from any thread, each allocation under the arena's own lock. Closing the allocator closes it.
     *
     * @throws IllegalStateException if the allocator is closed
     */
    public Arena newSharedArena() {
        return openArena(true);
    }

    private Arena openArena(boolean shared) {
        synchronized (arenaLock) {
            if (arenasClosing) {
                throw closedException();
            }
            return openArenaLocked(shared);
        }
    }

    private Arena openArenaLocked(boolean shared) {
        ensureOpen();
        // Threads that die with their arenas open must not grow the set without bound: sweep
        // each time it doubles, which costs O(1) per arena opened, amortized. Once a peak has
        // passed (a quarter of it left open), count the doubling from what is open now, or the
        // orphans of the quiet time after it would wait for the next trim.
        int open = openArenas.size();
        if (open >= orphanSweepAt) {
            freeOrphanedArenas();
            orphanSweepAt = Math.max(ORPHAN_SWEEP_MINIMUM, 2 * openArenas.size());
        } else if (4 * open < orphanSweepAt) {
            orphanSweepAt = Math.max(ORPHAN_SWEEP_MINIMUM, 2 * open);
        }
        PagodaArena arena = new PagodaArena(this, shared);
        openArenas.add(arena);
        return arena;
    }

    /**
     * Gives back the blocks of every confined arena whose owner died with it open (no thread can
     * reach its segments any more), each by the one caller that takes it out of the open arenas.
     */
    private void freeOrphanedArenas() {
        for (PagodaArena arena : openArenas) {
            if (arena.isOrphaned() && openArenas.remove(arena)) {
                arena.freeOrphaned();
            }
        }
    }

    /**
     * A named child allocator with a byte limit, for a tenant, a connection or a table: its
     * allocations come from this allocator and are charged to it ({@link ChildAllocator}). It
     * refuses to close while it has live allocations.
     *
     * @throws IllegalArgumentException if the limit is negative
     * @throws IllegalStateException    if the allocator is closed
     */
    public ChildAllocator newChild(String name, long limitBytes) {
        return newChild(name, limitBytes, ChildAllocator.OnClose.REFUSE);
    }

    /**
     * A named child allocator with a byte limit, closing as {@code onClose} says when it still has
     * live allocations.
     *
     * @throws IllegalArgumentException if the limit is negative
     * @throws IllegalStateException    if the allocator is closed
     */
    public ChildAllocator newChild(String name, long limitBytes, ChildAllocator.OnClose onClose) {
        ensureOpen();
        return new ChildAllocator(this, null, name, limitBytes, onClose);
    }

    /**
     * In the debug mode ({@link Builder#debug}), the allocations still live, each with the thread
     * and stack that made it (the first hundred; the rest are counted, with their bytes), and
     * every ByteBuffer that became unreachable without release; an empty string when there are
     * none, or when the debug mode is off. The debug mode also prints
     * it to standard error when the allocator closes.
     */
    public String leakReport() {
        return debug == null ? "" : debug.leakReport();
    }

    /** In the debug mode, the thread and stack that made the allocation at an address; else "". */
    String allocationSite(long address) {
        return debug == null ? "" : debug.allocationSite(address);
    }

    /** Arenas open now, orphaned ones not yet swept included: for tests. */
    int openArenaCount() {
        return openArenas.size();
    }

    /**
     * An arena took the block at an address: from now on a free by page, address or segment is
     * refused ({@link PageDescriptors#ARENA_FLAG}), since the arena's segments, of the arena's
     * own scope, would still reach the block once it served someone else.
     */
    void claimBlockForArena(long address) {
        PageDescriptors descriptors = region.descriptors();
        int pfn = region.pfn(address);
        descriptors.setInfo(pfn, descriptors.info(pfn) | PageDescriptors.ARENA_FLAG);
    }

    /** An arena's close gives back a block it took. */
    void freeArenaBlock(long address, int order) {
        PageDescriptors descriptors = region.descriptors();
        int pfn = region.pfn(address);
        descriptors.setInfo(pfn, descriptors.info(pfn) & ~PageDescriptors.ARENA_FLAG);
        freePages(address, order);
    }

    /** An arena took a mapping: as {@link #claimBlockForArena}, only the arena's close frees it now. */
    void claimMappingForArena(MemorySegment mapping) {
        largeMappings.claimForArena(mapping.address());
    }

    /** An arena's close gives back a mapping it took. */
    void freeArenaMapping(MemorySegment mapping) {
        ensureOpen();
        largeMappings.freeForArena(mapping.address(), describeRegion());
        forgetMapping(mapping.address());
    }

    /** Called by an arena once it is closed. */
    void arenaClosed(PagodaArena arena) {
        openArenas.remove(arena);
    }

    // The failures' messages are built out of line, so that the fast paths stay small enough to inline.

    private IllegalArgumentException notAFrame(long address) {
        return new IllegalArgumentException("address 0x" + Long.toHexString(address)
                + " is not the start of a frame of this allocator's region " + describeRegion());
    }

    private IllegalArgumentException notOurs(MemorySegment segment) {
        return new IllegalArgumentException("segment at 0x" + Long.toHexString(segment.address()) + " of "
                + segment.byteSize() + " bytes was not allocated by this allocator " + describeRegion());
    }

    private IllegalStateException noLongerAlive(MemorySegment segment) {
        return new IllegalStateException("double free: the segment at 0x" + Long.toHexString(segment.address()) + " of "
                + segment.byteSize() + " bytes is no longer alive; a mapping of this allocator (above the largest block) "
                + "freed already, or a segment of a closed arena " + describeRegion());
    }

    private IllegalArgumentException notABlock(long address, long byteSize) {
        return new IllegalArgumentException((byteSize < 0 ? "address 0x" + Long.toHexString(address)
                : "segment at 0x" + Long.toHexString(address) + " of " + byteSize + " bytes")
                + " does not start at an object or a block: it lies inside one, or is a slice");
    }

    private RuntimeException rejectedObjectFree(long address, long byteSize, int result) {
        String object = "the object at 0x" + Long.toHexString(address);
        return switch (result) {
            case Slabs.ALREADY_FREE -> new IllegalStateException("double free: " + object
                    + " is already free (or was never handed out)");
            case Slabs.TOO_LARGE -> new IllegalArgumentException("wrong size: " + object + " holds "
                    + slabs.objectSizeAt(address - region.base()) + " bytes, not the " + byteSize + " freed");
            default -> new IllegalArgumentException("0x" + Long.toHexString(address)
                    + " is not the start of an object: it lies inside one of "
                    + slabs.objectSizeAt(address - region.base()) + " bytes, or is a slice");
        };
    }

    private IllegalArgumentException badSize(long byteSize) {
        return byteSize < 0
                ? new IllegalArgumentException("byteSize must not be negative: " + byteSize)
                : new IllegalArgumentException("byteSize " + byteSize + " is larger than the largest block, "
                        + maxBlockBytes + " bytes (pageSize " + pageSize() + " << maxOrder " + maxOrder + ")");
    }

    /**
     * The free blocks of each order in each zone, in the format of Linux's /proc/buddyinfo.
     *
     * <pre>
     * Node 0, zone   Normal      0      1      1      1      1      1      1      1      1      1    255
     * </pre>
     *
     * @throws IllegalStateException if the allocator is closed
     */
    public String buddyinfo() {
        ensureOpen();
        return BuddyInfo.format(buddy);
    }

    /**
     * The small objects' slab classes, in the format of Linux's /proc/slabinfo (version 2.1), one
     * line per class named {@code pagoda-<object size>}, each summed over the nodes: objects out
     * of their slabs (with users, or in per-thread magazines, as the kernel counts its per-CPU
     * caches' objects), objects the slabs hold, object size, objects per slab, pages per slab;
     * the magazines' limit and batch as the tunables; slabs with an object out, and all slabs.
     *
     * <pre>
     * slabinfo - version: 2.1
     * # name            &lt;active_objs&gt; &lt;num_objs&gt; &lt;objsize&gt; ...
     * pagoda-256           100    112    256   16    1 : tunables  128   64    0 : slabdata      7      7      0
     * </pre>
     *
     * @throws IllegalStateException if the allocator is closed
     */
    public String slabinfo() {
        ensureOpen();
        return SlabInfo.format(slabs.slabinfo());
    }

    /**
     * The free blocks of each order per {@link Lifetime}, and the number of pageblocks of each,
     * in the format of Linux's /proc/pagetypeinfo (pageblocks never touched show as "Untouched").
     *
     * @throws IllegalStateException if the allocator is closed
     */
    public String pagetypeinfo() {
        ensureOpen();
        return PageTypeInfo.format(buddy);
    }

    /**
     * Each zone's free memory, watermarks and counters, and the reclaim counters, in the manner
     * of Linux's /proc/zoneinfo (values in pages).
     *
     * <pre>
     * Node 0, zone   Normal
     *   pages free     16762882
     *         min      8192
     *         low      24969
     *         high     41746
     *         spanned  16777216
     *         ...
     * reclaim
     *         pageoutrun      0
     *         ...
     * </pre>
     *
     * @throws IllegalStateException if the allocator is closed
     */
    public String zoneinfo() {
        ensureOpen();
        return ZoneInfo.format(buddy, reclaimCounters());
    }

    /** The reclaim counters, in pages, as {@link #zoneinfo()} prints them and the MXBean shows them. */
    ZoneInfo.Reclaim reclaimCounters() {
        return new ZoneInfo.Reclaim(reclaimer.runs(), reclaimer.reclaimedBytes() >>> pageShift,
                directReclaims.sum(), directReclaimedBytes.sum() >>> pageShift, shrinkers.failures());
    }

    /** Allocations that failed after the slow path, for the MXBean. */
    long allocationFailures() {
        return failures.count();
    }

    /**
     * The unusable free space index of each order, per zone, as Linux's
     * {@code extfrag/unusable_index} prints it: for order j, the share of free memory in blocks
     * too small for an order-j request (0: all of it can serve; 1: none can).
     *
     * @throws IllegalStateException if the allocator is closed
     * @see #unusableIndex(int)
     */
    public String unusableIndex() {
        ensureOpen();
        return UnusableIndex.format(buddy);
    }

    /**
     * The unusable free space index of {@code order} over all zones: the share of free memory
     * (per-thread caches aside) that lies in blocks smaller than {@code 2^order} frames.
     *
     * @throws IllegalArgumentException if order is outside {@code [0, maxOrder()]}
     * @throws IllegalStateException    if the allocator is closed
     */
    public double unusableIndex(int order) {
        ensureOpen();
        checkOrder(order);
        return UnusableIndex.of(buddy, order);
    }

    /** Bytes of the region: the capacity it was built with. */
    public long capacity() {
        return buddy.managedFrames() << pageShift;
    }

    /** Bytes free in the zones. */
    public long freeBytes() {
        ensureOpen();
        return buddy.freeFrames() << pageShift;
    }

    /** Bytes in blocks handed out and not yet freed. */
    public long allocatedBytes() {
        ensureOpen();
        // Two racy reads while threads run: a refill between them must not show a negative figure.
        return Math.max(0, buddy.allocatedFrames() - cachedFrames()) << pageShift;
    }

    /** Bytes free in the per-thread caches: free for users, but outside the zones' free lists. */
    public long cachedBytes() {
        ensureOpen();
        return cachedFrames() << pageShift;
    }

    /**
     * Returns every per-thread cache's blocks and objects to the zones and slabs, and every empty
     * slab to the zones: the calling thread's caches at once, the others' without their owners'
     * help, even if they are blocked forever (it waits only for an owner inside a cache operation
     * at that moment, a few nanoseconds). It also frees the blocks of confined arenas whose owner
     * threads died with them open. Afterwards {@link #buddyinfo()} shows all free memory, merged.
     *
     * @throws IllegalStateException if the allocator is closed
     */
    public void trim() {
        ensureOpen();
        CacheDrainEvent drain = CacheDrainEvent.started(this);
        freeOrphanedArenas();
        drainCaches();
        drain.end(this);
    }

    /** Every magazine's objects to their slabs, then every page cache's blocks to the zones. */
    private void drainCaches() {
        slabs.shrink(); // the objects it gives back may empty slabs, whose blocks go to the page caches
        frames.drainAll();
    }

    /**
     * The counters summed over every per-thread cache, live and retired (of threads that died).
     *
     * @throws IllegalStateException if the allocator is closed
     */
    public CacheStatistics cacheStatistics() {
        ensureOpen();
        return toStatistics(frames.total());
    }

    /**
     * The counters of each live cache: one per platform thread that has used the allocator and is
     * still alive, and the stripes shared by virtual threads.
     *
     * @throws IllegalStateException if the allocator is closed
     */
    public List<CacheStatistics> perCacheStatistics() {
        ensureOpen();
        return frames.snapshots().stream().map(this::toStatistics).toList();
    }

    private CacheStatistics toStatistics(CacheSnapshot snapshot) {
        return new CacheStatistics(snapshot.name(), snapshot.hits(), snapshot.misses(), snapshot.frees(), snapshot.refills(),
                snapshot.drains(), snapshot.held() << pageShift);
    }

    private long cachedFrames() {
        return frames.cachedFrames();
    }

    /** Bytes per frame. */
    public int pageSize() {
        return 1 << pageShift;
    }

    /** The order of the pageblocks in which blocks of one {@link Lifetime} are grouped. */
    public int pageblockOrder() {
        return buddy.zone(0).pageblockOrder();
    }

    /** The largest order: blocks hold at most {@code pageSize() << maxOrder()} bytes. */
    public int maxOrder() {
        return maxOrder;
    }

    /** How the region is backed: {@link Backing#FFM_ARENA} where mmap was asked for but is not available. */
    public Backing backing() {
        return backing;
    }

    /** Bytes in a block of the given order: {@code pageSize() << order}. */
    public long blockSize(int order) {
        checkOrder(order);
        return 1L << (pageShift + order);
    }

    /**
     * The bytes {@link #allocate(long)} reserves for a request of {@code byteSize}: the size of its
     * class, of its block (or exact run, {@link Builder#exactRuns}), or of its mapping (page granular). Like {@code malloc_usable_size}, it
     * tells how much a buffer could grow for free; the segment handed out still has the size asked.
     *
     * @throws IllegalArgumentException if byteSize is negative, or more than any mapping can have
     *         (as {@code allocate} refuses it)
     */
    public long usableSize(long byteSize) {
        if (byteSize < 0) {
            throw badSize(byteSize);
        }
        if (byteSize > LargeMappings.MAX_MAPPING) {
            // Refused as allocate refuses it; rounded up to a page, it would also wrap to a
            // negative size, which a ChildAllocator would charge before the allocation failed.
            throw LargeMappings.tooLarge(byteSize);
        }
        if (byteSize <= largestClass) {
            return sizeClasses.size(SizeClasses.classOf(Math.max(byteSize, 1)));
        }
        if (byteSize > maxBlockBytes) {
            return largeMappings.mappedBytes(byteSize);
        }
        return runs == null ? blockSize(orderOf(byteSize)) : (long) framesFor(byteSize) << pageShift; // a block, or an exact run
    }

    /**
     * The bytes {@link #allocate(long, long)} reserves for {@code byteSize} bytes aligned to
     * {@code byteAlignment}: a larger class, or a block of at least the alignment's size, where
     * the alignment asks for it.
     *
     * @throws IllegalArgumentException if byteSize is negative or more than any mapping can have,
     *         or the alignment is not a positive power of two or cannot be served
     */
    public long usableSize(long byteSize, long byteAlignment) {
        checkAlignment(byteAlignment);
        if (byteSize < 0) {
            throw badSize(byteSize);
        }
        if (byteAlignment <= SizeClasses.QUANTUM) {
            return usableSize(byteSize);
        }
        int c = alignedClass(byteSize, byteAlignment);
        if (c >= 0) {
            return sizeClasses.size(c);
        }
        if (byteSize > maxBlockBytes) {
            return usableSize(byteSize); // a mapping
        }
        if (runs == null) {
            return blockSize(Math.max(orderOf(Math.max(byteSize, 1)), orderOf(byteAlignment)));
        }
        return (long) framesFor(byteSize) << pageShift; // an exact run, in a block of the alignment
    }

    /**
     * The order of the smallest block that holds {@code byteSize} bytes (order 0 for zero bytes).
     *
     * @throws IllegalArgumentException if byteSize is negative or larger than the largest block
     */
    public int orderForSize(long byteSize) {
        if (byteSize < 0 || byteSize > maxBlockBytes) {
            throw badSize(byteSize);
        }
        return orderOf(Math.max(byteSize, 1));
    }

    /**
     * Closes the allocator: waits for calls that hold a zone lock, then unmaps the region. Every
     * segment it handed out becomes inaccessible; every later call throws
     * {@link IllegalStateException}. (A call already past its closed check on a per-thread cache's
     * fast path may still complete; the JDK's scope check keeps its memory accesses safe.)
     * Closing again does nothing.
     *
     * @throws IllegalStateException if a confined arena of this allocator is still open and its
     *         owner thread alive (nothing is closed but the shared arenas, and the arenas of owners
     *         that died with them open, whose blocks go back), or if a segment of the region or of a
     *         large allocation's mapping is in use by a native call or an
     *         I/O operation at that moment (the JDK refuses to unmap it then): the allocator is
     *         closed to every call, but still mapped; call {@code close()} again once that use ends
     * @throws RuntimeException      what a custom cleanup action of a shared arena closed here
     *         threw (see {@link Arena#close()}), once the allocator is closed
     */
    @Override
    public synchronized void close() {
        // Unmapping the region under an open arena's segments would let them touch unmapped
        // memory: close shared arenas here, and refuse while a confined one (which only its
        // owner can close) is open and its owner alive.
        Throwable cleanupFailed = null;
        synchronized (arenaLock) {
            arenasClosing = true;
            freeOrphanedArenas();
            for (PagodaArena arena : openArenas) {
                if (!arena.isConfined()) {
                    Throwable failed = arena.closeForAllocator();
                    cleanupFailed = cleanupFailed == null ? failed : cleanupFailed;
                    openArenas.remove(arena);
                }
            }
            if (!openArenas.isEmpty()) {
                arenasClosing = closed; // refused: arenas may open again, while the allocator is open
                throw new IllegalStateException(openArenas.size() + " confined arenas are still open: "
                        + openArenas + "; their owner threads, still alive, must close them before the allocator");
            }
        }
        if (!closed) {
            if (mxBean != null) {
                mxBean.unregister(); // first: management tools must not read an allocator being closed
            }
            String leaks = leakReport();
            if (!leaks.isEmpty()) {
                System.err.println("Pagoda debug mode, at close:\n" + leaks);
            }
            reclaimer.close(); // first: the shrinkers it may be running still free into an open allocator
            closed = true;
            reaper.close();
            buddy.retire();
        }
        // Every close, not just the first: a mapping in use by an I/O operation when the first
        // ran is still mapped, and only a later close can unmap it.
        largeMappings.freeAll();
        if (!released) {
            region.close(); // throws, and leaves released false, while a segment is acquired
            released = true;
        }
        PagodaArena.rethrow(cleanupFailed);
    }

    @Override
    public String toString() {
        return "PageAllocator[capacity=" + capacity() + ", pageSize=" + pageSize() + ", maxOrder=" + maxOrder
                + ", backing=" + backing + (closed ? ", closed" : "") + "]";
    }

    /** The buddy core, for the invariant audits of the tests in this package. */
    BuddySystem buddySystem() {
        return buddy;
    }

    /** Each node's per-thread caches (none when disabled), for the invariant audits of the tests in this package. */
    List<ThreadCaches> threadCaches() {
        return frames.caches();
    }

    /** Runs the reaper's work at once, for the tests in this package. */
    void reapNow() {
        long now = System.nanoTime();
        slabs.reap(now);
        frames.reap(now);
    }

    /** The small-object layer, for the invariant audits of the tests in this package. */
    NodeSlabs slabs() {
        return slabs;
    }

    /** The region, for the invariant audits of the tests in this package. */
    Region region() {
        return region;
    }

    /**
     * The fast path: the thread's cache for cached orders, the zone for the others; the slow path
     * (drain every cache, retry, fail with a report) only when that finds nothing.
     *
     * @param requestedBytes the size asked for, for the failure's message; -1 when asked by order
     */
    private int allocateFrames(int order, int lifetime, long requestedBytes) {
        int pfn = findFrames(order, lifetime, false);
        if (pfn == PageDescriptors.NO_FRAME) {
            throw outOfPages(order, requestedBytes);
        }
        return pfn;
    }

    /** The fast path, then the slow path; NO_FRAME if both fail. */
    private int findFrames(int order, int lifetime, boolean critical) {
        int pfn = allocateFast(order, lifetime);
        return pfn != PageDescriptors.NO_FRAME ? pfn : allocateSlow(order, lifetime, critical);
    }

    /** Short-lived blocks of cached orders from the thread's cache, the others from the zone. */
    private int allocateFast(int order, int lifetime) {
        return frames.allocate(order, lifetime, false);
    }

    /**
     * The kernel's {@code __alloc_pages_slowpath}, once the zones refused (no block, or the min
     * watermark reached): first the memory the allocator holds itself (per-thread caches,
     * magazines, empty slabs: the kernel's drain_all_pages), then direct reclaim by the shrinkers,
     * then, for critical allocations and for a thread inside a shrinker, the memory below min.
     *
     * @return the head pfn, or NO_FRAME if all of that failed
     */
    private int allocateSlow(int order, int lifetime, boolean critical) {
        trim();
        int pfn = allocateFast(order, lifetime);
        boolean inReclaim = shrinkers.inReclaim();
        if (pfn == PageDescriptors.NO_FRAME && !inReclaim) {
            pfn = (int) retryAfterDirectReclaim(order, () -> allocateFast(order, lifetime), PageDescriptors.NO_FRAME);
        }
        if (pfn == PageDescriptors.NO_FRAME && (critical || inReclaim)) {
            pfn = frames.allocate(order, lifetime, true);
        }
        if (pfn == PageDescriptors.NO_FRAME && !critical && buddy.unreserve() > 0) {
            pfn = allocateFast(order, lifetime); // the reserve for critical allocations gives way last
        }
        if (pfn == PageDescriptors.NO_FRAME) {
            failures.record(order, lifetime, critical, buddy, pageShift);
        }
        return pfn;
    }

    /**
     * Direct reclaim, then the allocation again, for a thread not in reclaim already. Other
     * threads may take what was reclaimed before the retry: reclaim again while it frees
     * something, as the kernel's {@code should_reclaim_retry} does, up to its limit. What the
     * shrinkers freed on this thread went into its caches, out of the zones' reach: a retry that
     * fails after a reclaim that freed something drains them first (the kernel's
     * {@code drain_all_pages} after a direct reclaim whose retry failed).
     *
     * @param attempt the allocation, {@code failed} when it fails
     * @return what the last attempt returned
     */
    private long retryAfterDirectReclaim(int order, LongSupplier attempt, long failed) {
        long result = failed;
        for (int round = 0; result == failed && round < MAX_RECLAIM_RETRIES; round++) {
            long reclaimed = directReclaim(order);
            result = attempt.getAsLong(); // even after nothing: the reclaimer may just have freed
            if (reclaimed == 0) {
                break;
            }
            if (result == failed) {
                drainCaches();
                result = attempt.getAsLong();
            }
        }
        return result;
    }

    /**
     * The allocating thread reclaims for itself: asks the shrinkers for the block it needs, and
     * at least the kernel's SWAP_CLUSTER_MAX (32 frames), so that the next allocations find memory too.
     */
    private long directReclaim(int order) {
        long wanted = Math.max(blockSize(order), (long) DIRECT_RECLAIM_FRAMES << pageShift);
        directReclaims.increment();
        long reclaimed = shrinkers.shrink(wanted);
        directReclaimedBytes.add(reclaimed);
        return reclaimed;
    }

    private OutOfPagesException outOfPages(int order, long requestedBytes) {
        long bytes = requestedBytes < 0 ? blockSize(order) : requestedBytes;
        return new OutOfPagesException("no free block of order " + order + " (" + blockSize(order)
                + " bytes, for a request of " + bytes + " bytes); " + freeElsewhere(), order,
                BuddyInfo.format(buddy), zoneinfo());
    }

    /** Where the free frames are when an allocation fails: the out-of-pages messages' last clause. */
    private String freeElsewhere() {
        return buddy.freeFrames() + " frames free in smaller blocks, below the min watermark, or on nodes the thread's "
                + "memory policy excludes";
    }

    /** smallest k with pageSize << k >= byteSize, for 0 < byteSize <= the largest block. */
    private int orderOf(long byteSize) {
        int bits = 64 - Long.numberOfLeadingZeros(byteSize - 1); // ceil(log2(byteSize))
        return Math.max(0, bits - pageShift);
    }

    private RuntimeException rejectedFree(long address, int info, String freedAs) {
        String block = "the block at 0x" + Long.toHexString(address);
        return switch (PageDescriptors.state(info)) {
            case PageDescriptors.FREE -> new IllegalStateException("double free: " + block
                    + " is already free (or was never handed out)");
            case PageDescriptors.CACHED -> new IllegalStateException("double free: " + block
                    + " is already free (held in a per-thread cache)");
            case PageDescriptors.ALLOCATED -> PageDescriptors.isSlab(info)
                    ? new IllegalArgumentException(block + " is a slab of small objects, which only frees of "
                            + "the objects' own size give back; not freed as " + freedAs)
                    // An arena's and a run's blocks carry their flag, so the order matches and yet the
                    // free is refused: "wrong size" would send the caller after an order that is right.
                    : (info & PageDescriptors.ARENA_FLAG) != 0
                    ? new IllegalArgumentException(block + " belongs to an arena, which frees it when it closes; not freed as "
                            + freedAs)
                    : (info & PageDescriptors.RUN_FLAG) != 0
                    ? new IllegalArgumentException(block + " is part of an exact run of frames that allocate handed "
                            + "out, which only a free of the run from its start gives back; not freed as " + freedAs)
                    : new IllegalArgumentException("wrong size: " + block
                    + " was allocated as order " + PageDescriptors.order(info) + " (" + blockSize(PageDescriptors.order(info))
                    + " bytes), not freed as " + freedAs);
            default -> new IllegalArgumentException("0x" + Long.toHexString(address)
                    + " is not the head of an allocated block: it lies inside a block, was never allocated, "
                    + "or was freed already and merged with its buddy");
        };
    }

    private String describeRegion() {
        return "[0x" + Long.toHexString(region.base()) + ", 0x" + Long.toHexString(region.base() + capacity()) + ")";
    }

    /** The check every aligned request makes, arenas' included. */
    static void checkAlignment(long byteAlignment) {
        if (byteAlignment <= 0 || Long.bitCount(byteAlignment) != 1) {
            throw new IllegalArgumentException("byteAlignment must be a positive power of two: " + byteAlignment);
        }
    }

    private void checkOrder(int order) {
        if (order < 0 || order > maxOrder) {
            throw badOrder(order);
        }
    }

    private IllegalArgumentException badOrder(int order) {
        return new IllegalArgumentException("order " + order + " is outside [0, " + maxOrder + "]");
    }

    void ensureOpen() {
        if (closed) {
            throw closedException();
        }
    }

    private static IllegalStateException closedException() {
        return new IllegalStateException("PageAllocator is closed");
    }

    /**
     * Configures a {@link PageAllocator}. Each setter checks its own argument; {@link #build()}
     * checks how they fit together.
     */
    public static final class Builder {

        private long capacity = -1;
        private int pageSize = DEFAULT_PAGE_SIZE;
        private int maxOrder = DEFAULT_MAX_ORDER;
        private Backing backing = Backing.MMAP_NORESERVE;
        private int cachedOrders = DEFAULT_CACHED_ORDERS;
        private int cacheBatch;
        private int cacheHigh;
        private Duration cacheIdleTimeout = DEFAULT_CACHE_IDLE_TIMEOUT;
        private boolean zeroed;
        private boolean debug = Boolean.getBoolean("pagoda.debug");
        private int pageblockOrder = -1;
        private long minFreeBytes = -1;
        private Duration purgeDecay = DEFAULT_PURGE_DECAY;
        private int nodes = 1;
        private int[][] nodeDistances;
        private boolean bindToPhysicalNodes;
        private boolean hugePages;
        private boolean exactRuns;
        private boolean groupByLifetime = true;
        private int debugSampling = 1;
        private javax.management.ObjectName jmxName;

        private Builder() {
        }

        /**
         * Registers the allocator's {@link PageAllocatorMXBean} on the platform MBeanServer as
         * {@code io.pagoda:type=PageAllocator,name=<name>} when it is built, and unregisters it
         * when it is closed, so that JConsole, JMC or a JMX exporter can watch it. Default: none.
         *
         * @throws IllegalArgumentException if name cannot be an ObjectName's value as it is
         *         (empty, or with one of {@code , = : " * ?} or a newline; quote it with
         *         {@link javax.management.ObjectName#quote})
         */
        public Builder jmxName(String name) {
            this.jmxName = PageAllocatorBean.objectName(Objects.requireNonNull(name, "name"));
            return this;
        }

        /**
         * The debug mode (the kernel's page poisoning and {@code page_owner}): freed memory is
         * filled with 0x6b and checked when handed out again, so that a write after free is
         * caught at the next allocation of that memory, with the stack that freed it; every
         * allocation records its thread and stack, so that a double free says where the first
         * free was and {@link PageAllocator#leakReport()} lists what is still live (and which
         * ByteBuffers became unreachable without release). Slow: for tests and for hunting a
         * bug, not for production. Default: off, unless the system property
         * {@code pagoda.debug} is {@code true}; off, it costs nothing.
         */
        public Builder debug(boolean debug) {
            this.debug = debug;
            return this;
        }

        /**
         * In the debug mode, record the stack of one allocation and one free in {@code every}
         * (chosen at random; the others record their thread alone), since a stack trace is most of
         * the mode's cost. Poisoning still checks every reuse. Default 1: every stack.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder debugSampling(int every) {
            if (every <= 0) {
                throw new IllegalArgumentException("debugSampling must be positive: " + every);
            }
            this.debugSampling = every;
            return this;
        }

        /**
         * Whether every allocation is zeroed before it is handed out (the kernel's
         * {@code __GFP_ZERO}), as {@code ByteBuffer.allocateDirect} and the JDK's arenas do.
         * Default false: memory comes back as it was left, the speed a pool gives. Large
         * mappings are zero when fresh either way.
         */
        public Builder zeroed(boolean zeroed) {
            this.zeroed = zeroed;
            return this;
        }

        /**
         * Bytes of the region; required. With {@link Backing#MMAP_NORESERVE} this is address space,
         * not memory, so it may be far larger than the machine's RAM (up to 2^30 frames).
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder capacity(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("capacity must be positive: " + bytes);
            }
            this.capacity = bytes;
            return this;
        }

        /**
         * Bytes per frame: a power of two from 4 KiB to 1 GiB. Default 4 KiB.
         *
         * @throws IllegalArgumentException if not a power of two in that range
         */
        public Builder pageSize(int bytes) {
            if (bytes < MIN_PAGE_SIZE || bytes > MAX_PAGE_SIZE || Integer.bitCount(bytes) != 1) {
                throw new IllegalArgumentException("pageSize must be a power of two from " + MIN_PAGE_SIZE + " to "
                        + MAX_PAGE_SIZE + ": " + bytes);
            }
            this.pageSize = bytes;
            return this;
        }

        /**
         * The largest order, 0 to 20: the largest block is {@code pageSize << maxOrder} bytes.
         * Default 10.
         *
         * @throws IllegalArgumentException if outside [0, 20]
         */
        public Builder maxOrder(int order) {
            if (order < 0 || order > MAX_ORDER_LIMIT) {
                throw new IllegalArgumentException("maxOrder must be from 0 to " + MAX_ORDER_LIMIT + ": " + order);
            }
            this.maxOrder = order;
            return this;
        }

        /**
         * The order of the pageblocks in which blocks of one {@link Lifetime} are grouped, at most
         * {@code maxOrder}. Default: 2 MiB pageblocks (order 9 with 4 KiB pages), the size of a
         * transparent huge page, or the largest block if smaller.
         *
         * @throws IllegalArgumentException if negative ({@link #build()} checks it against maxOrder)
         */
        public Builder pageblockOrder(int order) {
            if (order < 0) {
                throw new IllegalArgumentException("pageblockOrder must not be negative: " + order);
            }
            this.pageblockOrder = order;
            return this;
        }

        /**
         * The min watermark, in bytes, of all zones together (the kernel's {@code min_free_kbytes}):
         * ordinary allocations stop short of it, and only {@linkplain PageAllocator#allocateCritical
         * critical} allocations and shrinkers at work may use it. The low and high watermarks are
         * derived from it as the kernel does (above min by a quarter of min, or 0.1% of the
         * region if more, and twice that). Default: as the kernel's, sqrt(16 * capacity in KiB)
         * KiB, from 128 KiB to 256 MiB and at most a quarter of the capacity: 32 MiB for 64 GiB.
         * 0 lets ordinary allocations use every frame.
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder minFreeBytes(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("minFreeBytes must not be negative: " + bytes);
            }
            // build() refuses more than the capacity, which may be set after this
            this.minFreeBytes = bytes;
            return this;
        }

        /**
         * How long a free block of pageblock size or more (2 MiB by default) stays free before its
         * memory is handed back to the operating system ({@code madvise(MADV_DONTNEED)}, the
         * kernel's free page reporting), so that resident memory falls after a burst. Reusing it
         * costs no system call, only the page faults of first touch. Default 10 seconds (jemalloc's
         * dirty decay); checked at the period of the cache reaper (a quarter of the cache idle
         * timeout). Only a mapped region hands memory back, and not in the debug mode, whose
         * poison must stay in freed memory.
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder purgeDecay(Duration decay) {
            Objects.requireNonNull(decay, "decay");
            if (decay.isNegative()) {
                throw new IllegalArgumentException("purgeDecay must not be negative: " + decay);
            }
            this.purgeDecay = decay;
            return this;
        }

        /**
         * Asks for transparent huge pages on the region ({@code madvise(MADV_HUGEPAGE)}, which the
         * kernel's THP mode "madvise" requires): 2 MiB pages where a pageblock is used, so fewer
         * TLB misses for a large live set. Pageblocks line up with huge pages, blocks of one
         * lifetime fill partly used pageblocks before fresh ones, and memory goes back to the OS
         * in whole pageblocks, so huge pages are not split by the allocator. Default false: a huge
         * page is resident as a whole once one byte of it is touched.
         */
        public Builder hugePages(boolean hugePages) {
            this.hugePages = hugePages;
            return this;
        }

        /**
         * Serves sizes above the size classes as exact runs of the frames they need (the kernel's
         * {@code alloc_pages_exact}: 20 KiB takes 5 frames) instead of the smallest block that
         * holds them (8 frames). Saves capacity: up to half of it where sizes sit just above a
         * power of two. It is the choice where every frame of the region is resident anyway (huge
         * pages, a pre-touched or locked region). Default false: the unused part of a block is
         * never touched, so costs no memory until the block is reused by a larger request, while
         * the freed ends of runs are small blocks that fragment the zone under churn. Measured
         * with {@code MemoryOverhead}: 38% resident over live with runs, 29% without.
         */
        public Builder exactRuns(boolean exactRuns) {
            this.exactRuns = exactRuns;
            return this;
        }

        /**
         * How many nodes the region is cut into (the kernel's NUMA nodes): equal contiguous
         * slices, each a whole number of the largest blocks, each with its own zone, lock,
         * watermarks and per-thread caches. A thread allocates from its own node first, then from
         * the others, nearest first ({@link MemoryPolicy}); see
         * {@link PageAllocator#bindThreadGroup} and {@link PageAllocator#bindCurrentThread}.
         * Default 1. Several nodes split one lock's contention, and keep a group of threads'
         * memory together; {@link #bindToPhysicalNodes} places each on a NUMA node of the machine.
         *
         * @throws IllegalArgumentException if not from 1 to {@link #MAX_NODES} ({@link #build()}
         *         refuses a region too small to give each node a largest block)
         */
        public Builder nodes(int count) {
            if (count < 1 || count > MAX_NODES) {
                throw new IllegalArgumentException("nodes must be from 1 to " + MAX_NODES + ": " + count);
            }
            this.nodes = count;
            return this;
        }

        /**
         * The distance between each pair of nodes, as ACPI's SLIT gives it: {@code distances[a][b]}
         * is how far node b's memory is from node a's threads. A node's fallback order is the
         * others by distance. Default: 10 to itself, 20 to every other. {@link #build()} checks the
         * table is nodes x nodes, with each row's own entry below the others.
         */
        public Builder nodeDistances(int[][] distances) {
            Objects.requireNonNull(distances, "distances");
            this.nodeDistances = java.util.Arrays.stream(distances).map(row -> row == null ? null : row.clone()).toArray(int[][]::new);
            return this;
        }

        /**
         * Whether each node's slice is bound to a NUMA node of the machine ({@code mbind},
         * MPOL_BIND), node i to the i-th online NUMA node (modulo their number), so that its
         * memory comes from there when first touched. On a machine with one NUMA node this does
         * nothing, and {@link PageAllocator#physicalBinding()} says so. Default false. Needs a
         * mapped region (Linux, x86-64 or AArch64).
         */
        public Builder bindToPhysicalNodes(boolean bind) {
            this.bindToPhysicalNodes = bind;
            return this;
        }

        /**
         * Whether blocks are grouped by {@link Lifetime} in pageblocks. Default true; false keeps
         * them all together, which only serves to measure what grouping gains (the kernel's
         * {@code page_group_by_mobility_disabled}).
         */
        public Builder groupByLifetime(boolean group) {
            this.groupByLifetime = group;
            return this;
        }

        /**
         * How to back the region. Default {@link Backing#MMAP_NORESERVE}, which falls back to
         * {@link Backing#FFM_ARENA} where mmap is not available ({@link PageAllocator#backing()}
         * tells which was used).
         */
        public Builder backing(Backing backing) {
            this.backing = Objects.requireNonNull(backing, "backing");
            return this;
        }

        /**
         * How many orders go through the per-thread caches: orders 0 to {@code orders - 1}.
         * Default 4 (up to 32 KiB blocks with 4 KiB pages, the kernel's PAGE_ALLOC_COSTLY_ORDER);
         * 0 turns the caches off. Capped at {@code maxOrder + 1}.
         *
         * @throws IllegalArgumentException if outside [0, 8]
         */
        public Builder cachedOrders(int orders) {
            if (orders < 0 || orders > MAX_CACHED_ORDERS) {
                throw new IllegalArgumentException("cachedOrders must be from 0 to " + MAX_CACHED_ORDERS + ": " + orders);
            }
            this.cachedOrders = orders;
            return this;
        }

        /**
         * Frames a cache takes from or gives back to its zone in one lock acquisition (the kernel's
         * pcp batch); for order k, {@code frames >> k} blocks, at least one. Default: derived from
         * the zone's size as the kernel does, a quarter of frames/1024, from 1 to 64.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder cacheBatch(int frames) {
            if (frames <= 0) {
                throw new IllegalArgumentException("cacheBatch must be positive: " + frames);
            }
            this.cacheBatch = frames;
            return this;
        }

        /**
         * Frames a cache holds at most per order before it gives a batch back (the kernel's pcp
         * high); for order k, {@code frames >> k} blocks. Default: four batches. Must be at least
         * the batch ({@link #build()} checks).
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder cacheHigh(int frames) {
            if (frames <= 0) {
                throw new IllegalArgumentException("cacheHigh must be positive: " + frames);
            }
            this.cacheHigh = frames;
            return this;
        }

        /**
         * How long a cache may sit unused before a background thread gives its blocks back, so
         * that an idle server holds nothing in its caches. Default 2 seconds. The caches of dead
         * threads are returned within a quarter of this (at least 10 ms, at most 1 s).
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder cacheIdleTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("cacheIdleTimeout must be positive: " + timeout);
            }
            this.cacheIdleTimeout = timeout;
            return this;
        }

        /**
         * Reserves the region and builds the allocator.
         *
         * @throws IllegalStateException    if no capacity was set
         * @throws IllegalArgumentException if the capacity is not a multiple of the page size, or
         *         spans more than 2^30 frames, or cacheHigh is below cacheBatch
         * @throws IllegalStateException    if a {@link #jmxName} was given and an MBean of that name
         *         is registered already (an allocator of that name is open): no allocator is made,
         *         and the other stays registered
         * @throws OutOfMemoryError         if the operating system refuses the reservation
         */
        public PageAllocator build() {
            if (capacity < 0) {
                throw new IllegalStateException("capacity is required: call capacity(bytes) before build()");
            }
            if (capacity % pageSize != 0) {
                throw new IllegalArgumentException("capacity " + capacity + " is not a multiple of the page size "
                        + pageSize);
            }
            if (pageblockOrder > maxOrder) {
                throw new IllegalArgumentException("pageblockOrder " + pageblockOrder + " is above maxOrder " + maxOrder);
            }
            if (capacity / pageSize > MAX_FRAMES) {
                throw new IllegalArgumentException("capacity " + capacity + " spans " + capacity / pageSize
                        + " frames; at most " + MAX_FRAMES + " frames of " + pageSize + " bytes are supported");
            }
            if (minFreeBytes > capacity) {
                throw new IllegalArgumentException("minFreeBytes " + minFreeBytes + " is more than the capacity, " + capacity
                        + " bytes: nothing could ever be allocated but by allocateCritical");
            }
            long frames = capacity / pageSize;
            int batch = cacheBatch > 0 ? cacheBatch : ThreadCaches.defaultBatchFrames(frames);
            int high = cacheHigh > 0 ? cacheHigh : Math.max(batch, ThreadCaches.defaultHighFrames(batch));
            if (high < batch) {
                throw new IllegalArgumentException("cacheHigh " + high + " is below cacheBatch " + batch);
            }
            PageAllocator pages = new PageAllocator(this, batch, high);
            if (jmxName != null) {
                try {
                    pages.mxBean = PageAllocatorBean.register(pages, jmxName);
                } catch (RuntimeException refused) {
                    pages.close(); // the name is another allocator's: this one is never handed out
                    throw refused;
                }
            }
            return pages;
        }
    }
}
