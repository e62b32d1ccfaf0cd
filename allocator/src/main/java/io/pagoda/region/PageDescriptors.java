package io.pagoda.region;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.Objects;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

/**
 * The page-descriptor table: one 32-byte descriptor per frame, off-heap (the kernel's
 * {@code struct page} array, which spends 64 bytes). No Java object exists per frame or per block.
 *
 * <h2>Layout of one descriptor</h2>
 * <pre>
 * offset  size  field     meaning                                                  written by
 *      0     4  next      next block on the same free list (or a slab's on its      zone, under its lock
 *                         class's partial list), or NO_FRAME                        (slab class, under its lock)
 *      4     4  prev      previous block on that list, or NO_FRAME                 as next
 *      8     4  info      packed state, order, lifetime type and flags (below)     zone, under its lock
 *     12     4  slab      in every frame of a slab: its size class + 1 and the      slab class, while it
 *                         frame's index in the slab (below); zero elsewhere         owns the block
 *     16     4  freelist  in a slab's head: index of its first free object, or -1   slab class, under its lock
 *                         (in an exact run's head: the run's length in frames)      (the run's owner)
 *     20     4  inuse     in a slab's head: objects out of the slab                 slab class, under its lock
 *     24     4  pageblock in a pageblock's first frame: the lifetime type     zone, under its lock
 *                         the pageblock is grouped under (see below)
 *     28     4  freeSince in a free block's head of pageblock order or more:   zone, under its lock
 *                         the purge epoch it became free in, and whether its
 *                         memory went back to the operating system (below)
 * </pre>
 * The offsets are derived from {@link #LAYOUT}, so this table, the layout and the code agree. As
 * in the kernel, where {@code struct page} is a union of what each user of a page keeps, the
 * fields past {@code info} belong to whichever layer owns the block; a block in the zone, or in a
 * per-thread cache, has them zero. The exception is {@code pageblock}, which belongs to the zone
 * whatever the frame holds.
 *
 * <h2>Pageblocks</h2>
 * The kernel groups frames by mobility in pageblocks of 2^pageblock_order frames, each with a
 * migrate type in a bitmap beside {@code mem_map}. Pagoda groups them by lifetime, and keeps a
 * pageblock's type in the {@code pageblock} field of its first frame: the table is there already,
 * and a pageblock never touched costs no resident memory for it. The field is meaningful only on
 * frames aligned to the pageblock order, and only once the zone has carved the pageblock.
 *
 * <h2>The info word</h2>
 * <pre>
 *  31            17   16      15     14   13        10 9           2 1     0
 * +----------------+-------+------+------+------------+-------------+-------+
 * |      zero      | arena | run  | slab |  lifetime  |    order    | state |
 * +----------------+-------+------+------+------------+-------------+-------+
 * </pre>
 * The slab flag (the kernel's {@code PG_slab}) marks an allocated head whose block a slab class
 * owns; the run flag, every block of an exact run; the arena flag, a block an arena took. The
 * page-level free refuses all three, since the info word is then not that of a plain allocated
 * block: only their owner gives them back, after clearing its flag.
 *
 * <h2>The slab word</h2>
 * <pre>
 *  31                                   8 7                  0
 * +--------------------------------------+--------------------+
 * |     index of the frame in its slab   |  size class + 1    |
 * +--------------------------------------+--------------------+
 * </pre>
 * So an object's address finds its slab in O(1): frame, then the slab word, then the head
 * ({@code frame - index}); the kernel's {@code virt_to_slab}.
 * A frame is in one of four states: {@link #TAIL} (inside a block, or never touched: the table is
 * zero-filled, so zero must mean "not a head"), {@link #FREE} (head of a block on a free list),
 * {@link #ALLOCATED} (head of a block handed out) or {@link #CACHED} (head of a block held in a
 * per-thread cache: free for the user, out of the zone for the buddy system, so never merged).
 * Only heads carry an order and links; a tail's
 * descriptor is never read for its order. Since every merge clears the swallowed head and every
 * split writes the new heads, a descriptor that reads as a head really is one: this is what lets a
 * free be validated in O(1) from the address alone.
 *
 * <h2>Who writes</h2>
 * The zone lock's holder writes the links and every transition into or out of FREE. Between
 * ALLOCATED and CACHED a block moves without the lock, written by the one thread that holds the
 * block at that moment (its user freeing it, or the cache handing it out). A zone reading a buddy's
 * info word under its lock may thus race with such a write; it only asks "FREE, of this order?",
 * and FREE is never written without the lock, so either racing value gives the same answer.
 * Plain int accesses: an aligned int is never torn. They go through the unaligned layout only to
 * spare the JIT an alignment check it cannot prove away: every offset is a multiple of 4 (the
 * table is 32-byte aligned, and so is every descriptor), and the smaller code lets the fast paths
 * that use it inline into their callers.
 *
 * <h2>How the table is reached</h2>
 * Through one segment that spans the address space, at the table's address plus the descriptor's
 * offset. Through a segment of its own, every access checked the segment's class, its read-only
 * flag, its bounds against its length and its arena's liveness: three accesses per cached 4 KiB
 * pair, which took 2.3 ns of its 15.3. What those checks guarded is kept another way:
 * <ul>
 *   <li>bounds: a pfn outside the table throws {@link IndexOutOfBoundsException}, checked here
 *       against the frame count, a final field;</li>
 *   <li>liveness: the table's memory belongs to an arena of its own that a cleaner closes once
 *       this object is unreachable (not an automatic arena, whose allocations count against
 *       {@code -XX:MaxDirectMemorySize}), so it stays mapped while any thread can still reach the
 *       descriptors, and is released after. With an {@code mmap} table, {@link Region#close()},
 *       at the allocator's close, gives its pages back at once: a thread still inside an operation
 *       then reads zeros (a tail, which no free accepts), never memory unmapped or reused. An FFM
 *       table keeps its contents, and its memory, until the cleaner runs.</li>
 * </ul>
 */
public final class PageDescriptors {

    /** The layout of one descriptor. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("next"),
            JAVA_INT.withName("prev"),
            JAVA_INT.withName("info"),
            JAVA_INT.withName("slab"),
            JAVA_INT.withName("freelist"),
            JAVA_INT.withName("inuse"),
            JAVA_INT.withName("pageblock"),
            JAVA_INT.withName("freeSince"));

    /** Bytes per descriptor: 32. */
    public static final long DESCRIPTOR_BYTES = LAYOUT.byteSize();

    private static final long NEXT_OFFSET = LAYOUT.byteOffset(groupElement("next"));
    private static final long PREV_OFFSET = LAYOUT.byteOffset(groupElement("prev"));
    private static final long INFO_OFFSET = LAYOUT.byteOffset(groupElement("info"));
    private static final long SLAB_OFFSET = LAYOUT.byteOffset(groupElement("slab"));
    private static final long FREELIST_OFFSET = LAYOUT.byteOffset(groupElement("freelist"));
    private static final long INUSE_OFFSET = LAYOUT.byteOffset(groupElement("inuse"));
    private static final long PAGEBLOCK_OFFSET = LAYOUT.byteOffset(groupElement("pageblock"));
    private static final long FREE_SINCE_OFFSET = LAYOUT.byteOffset(groupElement("freeSince"));
    private static final int DESCRIPTOR_SHIFT = Long.numberOfTrailingZeros(DESCRIPTOR_BYTES);

    /** The sentinel for "no frame" in links and results. */
    public static final int NO_FRAME = -1;

    /** State of a frame inside a block, or of a frame never touched. Must be zero. */
    public static final int TAIL = 0;
    /** State of the head frame of a free block. */
    public static final int FREE = 1;
    /** State of the head frame of an allocated block. */
    public static final int ALLOCATED = 2;
    /** State of the head frame of a block held in a per-thread cache. */
    public static final int CACHED = 3;

    static final int STATE_BITS = 2;
    static final int ORDER_BITS = 8;
    static final int LIFETIME_BITS = 4;
    static final int STATE_SHIFT = 0;
    static final int ORDER_SHIFT = STATE_SHIFT + STATE_BITS;
    static final int LIFETIME_SHIFT = ORDER_SHIFT + ORDER_BITS;

    /** The info word's flag of a block that a slab class owns (the kernel's PG_slab). */
    public static final int SLAB_FLAG = 1 << (LIFETIME_SHIFT + LIFETIME_BITS);

    /**
     * The info word's flag of a block that is part of an exact run: a run of frames that is no
     * power of two, made of allocated blocks that are freed together (see {@code ExactRuns}).
     */
    public static final int RUN_FLAG = SLAB_FLAG << 1;

    /** The info word's flag of a block that an arena took, which only the arena's close frees. */
    public static final int ARENA_FLAG = RUN_FLAG << 1;

    /** Largest order an info word can hold. */
    public static final int MAX_ORDER_LIMIT = (1 << ORDER_BITS) - 1;
    /** Number of lifetime types an info word can tell apart. */
    public static final int LIFETIME_LIMIT = 1 << LIFETIME_BITS;

    /** The whole address space, global in scope: the table is reached through it (see the class comment). */
    private static final MemorySegment ADDRESS_SPACE = addressSpace();

    /** The table, kept here for its arena: while this object is reachable, its memory is mapped. */
    private final MemorySegment table;
    private final long tableAddress;
    private final int frames;

    /** @param table the table's memory, in an arena that a cleaner closes once this object is unreachable */
    PageDescriptors(MemorySegment table) {
        if (table.byteSize() % DESCRIPTOR_BYTES != 0 || table.byteSize() >> DESCRIPTOR_SHIFT > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("table size " + table.byteSize() + " is not a whole number of descriptors, at most 2^31 - 1");
        }
        this.table = table;
        this.tableAddress = table.address();
        this.frames = (int) (table.byteSize() >> DESCRIPTOR_SHIFT);
    }

    /** Bytes of table needed for {@code frames} frames. */
    public static long tableBytes(int frames) {
        return (long) frames << DESCRIPTOR_SHIFT;
    }

    /** Encodes an info word. */
    public static int info(int state, int order, int lifetime) {
        return state << STATE_SHIFT | order << ORDER_SHIFT | lifetime << LIFETIME_SHIFT;
    }

    /** The state of an info word: {@link #TAIL}, {@link #FREE}, {@link #ALLOCATED} or {@link #CACHED}. */
    public static int state(int info) {
        return (info >>> STATE_SHIFT) & ((1 << STATE_BITS) - 1);
    }

    /** The order of a head's info word. */
    public static int order(int info) {
        return (info >>> ORDER_SHIFT) & ((1 << ORDER_BITS) - 1);
    }

    /** Whether a head's info word carries the slab flag. */
    public static boolean isSlab(int info) {
        return (info & SLAB_FLAG) != 0;
    }

    /** The lifetime type of a head's info word. */
    public static int lifetime(int info) {
        return (info >>> LIFETIME_SHIFT) & ((1 << LIFETIME_BITS) - 1);
    }

    public int info(int pfn) {
        return ADDRESS_SPACE.get(JAVA_INT_UNALIGNED, at(pfn, INFO_OFFSET));
    }

    public void setInfo(int pfn, int info) {
        ADDRESS_SPACE.set(JAVA_INT_UNALIGNED, at(pfn, INFO_OFFSET), info);
    }

    public int next(int pfn) {
        return ADDRESS_SPACE.get(JAVA_INT_UNALIGNED, at(pfn, NEXT_OFFSET));
    }

    public void setNext(int pfn, int next) {
        ADDRESS_SPACE.set(JAVA_INT_UNALIGNED, at(pfn, NEXT_OFFSET), next);
    }

    public int prev(int pfn) {
        return ADDRESS_SPACE.get(JAVA_INT_UNALIGNED, at(pfn, PREV_OFFSET));
    }

    public void setPrev(int pfn, int prev) {
        ADDRESS_SPACE.set(JAVA_INT_UNALIGNED, at(pfn, PREV_OFFSET), prev);
    }

    /** Zero unless the frame belongs to a slab; see the class comment. */
    public int slab(int pfn) {
        return ADDRESS_SPACE.get(JAVA_INT_UNALIGNED, at(pfn, SLAB_OFFSET));
    }

    public void setSlab(int pfn, int slab) {
        ADDRESS_SPACE.set(JAVA_INT_UNALIGNED, at(pfn, SLAB_OFFSET), slab);
    }

    public int freelist(int pfn) {
        return ADDRESS_SPACE.get(JAVA_INT_UNALIGNED, at(pfn, FREELIST_OFFSET));
    }

    public void setFreelist(int pfn, int index) {
        ADDRESS_SPACE.set(JAVA_INT_UNALIGNED, at(pfn, FREELIST_OFFSET), index);
    }

    /** The length in frames of the exact run whose head this is; the freelist field, by another name. */
    public int runFrames(int pfn) {
        return freelist(pfn);
    }

    public void setRunFrames(int pfn, int frames) {
        setFreelist(pfn, frames);
    }

    public int inuse(int pfn) {
        return ADDRESS_SPACE.get(JAVA_INT_UNALIGNED, at(pfn, INUSE_OFFSET));
    }

    public void setInuse(int pfn, int objects) {
        ADDRESS_SPACE.set(JAVA_INT_UNALIGNED, at(pfn, INUSE_OFFSET), objects);
    }

    /** The lifetime type of the pageblock that starts at {@code pfn}; see the class comment. */
    public int pageblockType(int pfn) {
        return ADDRESS_SPACE.get(JAVA_INT_UNALIGNED, at(pfn, PAGEBLOCK_OFFSET));
    }

    public void setPageblockType(int pfn, int lifetime) {
        ADDRESS_SPACE.set(JAVA_INT_UNALIGNED, at(pfn, PAGEBLOCK_OFFSET), lifetime);
    }

    /** See {@link #setFreeSince}. */
    public int freeSince(int pfn) {
        return ADDRESS_SPACE.get(JAVA_INT_UNALIGNED, at(pfn, FREE_SINCE_OFFSET));
    }

    /**
     * Stamps a large free block's head: the zone's purge epoch (31 bits, compared modulo 2^31),
     * or'ed with {@link #PURGED} once its memory went back to the operating system.
     */
    public void setFreeSince(int pfn, int stamp) {
        ADDRESS_SPACE.set(JAVA_INT_UNALIGNED, at(pfn, FREE_SINCE_OFFSET), stamp);
    }

    /** The flag of a {@link #freeSince} stamp whose block's memory went back to the operating system. */
    public static final int PURGED = 1 << 31;

    /** A restricted method: without native access, say which flag is missing. */
    private static MemorySegment addressSpace() {
        try {
            return MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
        } catch (IllegalCallerException denied) {
            throw new IllegalCallerException("Pagoda needs native access: run with --enable-native-access=io.pagoda "
                    + "(module path) or --enable-native-access=ALL-UNNAMED (class path)", denied);
        }
    }

    /** Where the table starts. */
    long tableAddress() {
        return tableAddress;
    }

    /** The address of a field of frame {@code pfn}'s descriptor. */
    private long at(int pfn, long field) {
        return tableAddress + ((long) Objects.checkIndex(pfn, frames) << DESCRIPTOR_SHIFT) + field;
    }
}
