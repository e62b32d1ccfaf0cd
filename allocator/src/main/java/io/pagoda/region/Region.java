package io.pagoda.region;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;

/**
 * The reserved region that plays physical memory: {@code frames} frames of {@code 1 << pageShift}
 * bytes each, at addresses {@code base + (pfn << pageShift)}, plus the page-descriptor table that
 * describes them.
 *
 * <p>On Linux both are reserved with {@code mmap(MAP_NORESERVE)}, so a region of 64 GiB is
 * created at once and costs resident memory only for the pages that are touched. Elsewhere (or
 * when asked) both are plain FFM allocations, which the JDK zeroes up front.
 *
 * <p>The region is aligned to {@code alignment} (the largest block size), so that a block of order
 * k starts at an address that is a multiple of its own size. {@link #close()} releases the memory;
 * every segment sliced from {@link #memory()} becomes inaccessible at that moment (the JDK's scope
 * check, not Pagoda's), so a late access throws instead of touching unmapped memory. The
 * descriptor table, which the allocator reaches without a segment's checks, gives its pages back
 * at close too, but stays mapped until nothing can reach it (see {@link PageDescriptors}).
 */
public final class Region implements AutoCloseable {

    /**
     * Closes each descriptor table's arena once its descriptors are unreachable. Not
     * {@code Arena.ofAuto()}: its allocations count against {@code -XX:MaxDirectMemorySize}.
     */
    private static final Cleaner TABLES = Cleaner.create();

    private final Arena arena;
    private final MemorySegment memory;
    private final PageDescriptors descriptors;
    private final int pageShift;
    private final int frames;
    private final boolean mapped;
    /** memory.address() and memory.byteSize(), kept as fields: the fast paths check addresses against them. */
    private final long base;
    private final long bytes;

    private Region(Arena arena, MemorySegment memory, PageDescriptors descriptors, int pageShift, int frames,
                   boolean mapped) {
        this.arena = arena;
        this.memory = memory;
        this.base = memory.address();
        this.bytes = memory.byteSize();
        this.descriptors = descriptors;
        this.pageShift = pageShift;
        this.frames = frames;
        this.mapped = mapped;
    }

    /**
     * Reserves a region of {@code frames} frames.
     *
     * @param frames     number of frames, positive
     * @param pageShift  log2 of the frame size
     * @param alignment  alignment of the region's base, a power of two no smaller than a frame
     * @param useMapping reserve with {@code mmap(MAP_NORESERVE)}; if false, or if mmap is not
     *                   {@linkplain NativeMemory#isAvailable() available}, use an FFM allocation
     */
    public static Region reserve(int frames, int pageShift, long alignment, boolean useMapping) {
        boolean mapped = useMapping && NativeMemory.isAvailable();
        long bytes = (long) frames << pageShift;
        Arena arena = Arena.ofShared();
        try {
            MemorySegment memory = mapped ? map(arena, bytes, alignment) : arena.allocate(bytes, alignment);
            // The table outlives the region's close until nothing can reach it: see PageDescriptors.
            // Its own shared arena, closed by a cleaner, is not accounted as direct memory.
            Arena tableArena = Arena.ofShared();
            PageDescriptors descriptors;
            try {
                long tableBytes = PageDescriptors.tableBytes(frames);
                MemorySegment table = mapped
                        ? map(tableArena, tableBytes, PageDescriptors.DESCRIPTOR_BYTES)
                        : tableArena.allocate(tableBytes, PageDescriptors.DESCRIPTOR_BYTES);
                descriptors = new PageDescriptors(table);
            } catch (RuntimeException | Error e) {
                tableArena.close();
                throw e;
            }
            TABLES.register(descriptors, tableArena::close);
            return new Region(arena, memory, descriptors, pageShift, frames, mapped);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Memory outside any region, for an allocation larger than the largest block: a reservation
     * of its own (or an FFM allocation where mmap is not used), released when the arena closes.
     */
    public static MemorySegment mapping(Arena arena, long bytes, long alignment, boolean useMapping) {
        return useMapping && NativeMemory.isAvailable() ? map(arena, bytes, alignment) : arena.allocate(bytes, alignment);
    }

    /** Maps {@code bytes} aligned to {@code alignment}; the arena's close unmaps the whole reservation. */
    private static MemorySegment map(Arena arena, long bytes, long alignment) {
        long reserved = bytes + alignment;
        long raw = NativeMemory.reserve(reserved);
        long aligned = (raw + alignment - 1) & -alignment;
        return MemorySegment.ofAddress(aligned)
                .reinterpret(bytes, arena, unused -> NativeMemory.release(raw, reserved));
    }

    /** The whole region as one segment; blocks are slices of it. */
    public MemorySegment memory() {
        return memory;
    }

    /** The page-descriptor table, one descriptor per frame. */
    public PageDescriptors descriptors() {
        return descriptors;
    }

    /** Address of the first frame. */
    public long base() {
        return base;
    }

    /** log2 of the frame size. */
    public int pageShift() {
        return pageShift;
    }

    /** Number of frames in the region. */
    public int frames() {
        return frames;
    }

    /** Whether the region is an {@code mmap(MAP_NORESERVE)} reservation rather than an FFM allocation. */
    public boolean isMapped() {
        return mapped;
    }

    /**
     * Hands the memory of {@code frames} frames from {@code pfn} back to the operating system
     * (MADV_DONTNEED): they read as zero afterwards, and cost memory again when touched. Only a
     * mapped region can; an FFM allocation keeps its memory.
     *
     * @return whether the memory went back
     */
    public boolean discard(int pfn, int frames) {
        return mapped && NativeMemory.discard(address(pfn), (long) frames << pageShift);
    }

    /** Asks for transparent huge pages over the whole region (MADV_HUGEPAGE); false where refused or not mapped. */
    public boolean adviseHugePages() {
        return mapped && NativeMemory.adviseHugePages(base, (long) frames << pageShift);
    }

    /**
     * Binds the memory of {@code frames} frames from {@code pfn} to NUMA node {@code node} of the
     * machine (mbind); see {@link NativeMemory#bindToNode}.
     *
     * @throws UnsupportedOperationException if the region is not a mapping, or mbind is unavailable
     */
    public void bindToNode(int pfn, int frames, int node) {
        if (!mapped) {
            throw new UnsupportedOperationException("only a mapped region can be bound to a NUMA node");
        }
        NativeMemory.bindToNode(address(pfn), (long) frames << pageShift, node);
    }

    /** Frame number of an address inside the region: {@code (address - base) >> pageShift}. */
    public int pfn(long address) {
        return (int) ((address - base) >>> pageShift);
    }

    /** Address of a frame: {@code base + (pfn << pageShift)}. */
    public long address(int pfn) {
        return base + ((long) pfn << pageShift);
    }

    /** Whether {@code address} is the first byte of some frame of this region. */
    public boolean isFrameAddress(long address) {
        long offset = address - base;
        return offset >= 0 && offset < bytes && (offset & ((1L << pageShift) - 1)) == 0;
    }

    /**
     * Releases the memory, and the descriptor table's pages; every slice of {@link #memory()} dies
     * with it. The table reads as zeros from then on, and its address space goes when the
     * descriptors are unreachable; an FFM table keeps its memory until then.
     */
    @Override
    public void close() {
        arena.close();
        if (mapped) {
            NativeMemory.discard(descriptors.tableAddress(), PageDescriptors.tableBytes(frames));
        }
    }
}
