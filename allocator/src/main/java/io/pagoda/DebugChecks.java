package io.pagoda;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The debug mode ({@link PageAllocator.Builder#debug}): the kernel's page poisoning and
 * {@code page_owner}, for the allocator's users' bugs.
 *
 * <ul>
 *   <li>Every free fills the memory with {@link #POISON} (the kernel's {@code POISON_FREE}); the
 *       next allocation of the same address checks that it is still there, and refuses, with the
 *       thread and stack that freed it, memory written after its free (a use after free).</li>
 *   <li>Every allocation records its thread and stack until it is freed: a double free reports
 *       where the first free was, and {@link #leakReport} lists what is still live, with where it
 *       was allocated; so does a ByteBuffer that became unreachable without its release.</li>
 * </ul>
 * A slab object's first 16 bytes are not poisoned: they hold its free marker and free-list link.
 * Memory that fails its check is not handed out again: it stays out, so that the report is the
 * only consequence of the bug. Costly (a stack trace per allocation and free, a fill per free, a
 * scan per allocation), and costless when off: the allocator holds no instance then.
 */
final class DebugChecks {

    /** The byte freed memory is filled with. */
    static final byte POISON = 0x6b;
    /** Bytes at a free slab object's start that the slab layer itself writes. */
    static final int SLAB_HEADER = 16;

    /** Leaks listed one by one in a report; the rest are counted. */
    static final int MAX_REPORTED_LEAKS = 100;
    /** Frames of a site kept in a report. */
    private static final int MAX_FRAMES = 12;
    private static final java.util.Set<String> ALLOCATOR_CLASSES = java.util.Set.of(PageAllocator.class.getName(),
            DebugChecks.class.getName(), PagodaArena.class.getName(), ChildAllocator.class.getName());
    private static final List<String> LIBRARY_PACKAGES = List.of("io.pagoda.region.", "io.pagoda.buddy.",
            "io.pagoda.pcp.", "io.pagoda.slab.", "io.pagoda.stats.");

    /** Who allocated or freed something, and where. */
    private static final class Owner extends Throwable {
        private static final long serialVersionUID = 1L;

        final long bytes;
        /** Bytes at the start that the allocator itself writes once this is free (a slab object's header). */
        final long header;

        Owner(String what, long address, long bytes, long header, boolean withStack) {
            super(what + " 0x" + Long.toHexString(address) + " (" + bytes + " bytes) on thread '"
                    + Thread.currentThread().getName() + "'" + (withStack ? "" : " (stack not sampled)"),
                    null, false, withStack);
            this.bytes = bytes;
            this.header = header;
        }

        /** The message and the caller's frames: the allocator's own frames on top are left out. */
        String describe() {
            StringBuilder text = new StringBuilder(getMessage());
            StackTraceElement[] frames = getStackTrace();
            int first = 0;
            while (first < frames.length && isAllocatorFrame(frames[first].getClassName())) {
                first++;
            }
            for (int i = first; i < Math.min(frames.length, first + MAX_FRAMES); i++) {
                text.append("\n        at ").append(frames[i]);
            }
            return text.toString();
        }

        private static boolean isAllocatorFrame(String className) {
            String topLevel = className.contains("$") ? className.substring(0, className.indexOf('$')) : className;
            return ALLOCATOR_CLASSES.contains(topLevel) || LIBRARY_PACKAGES.stream().anyMatch(className::startsWith);
        }
    }

    private final MemorySegment memory;
    private final long base;
    private final Map<Long, Owner> live = new ConcurrentHashMap<>();
    /** Freed memory by start address: poison from {@code start + header} to {@code start + bytes}. */
    private final java.util.concurrent.ConcurrentSkipListMap<Long, Owner> freed = new java.util.concurrent.ConcurrentSkipListMap<>();
    private final ConcurrentLinkedQueue<String> lostBuffers = new ConcurrentLinkedQueue<>();
    private final Cleaner cleaner = Cleaner.create();

    /** Stacks are recorded for one call in this many: 1 records every one. */
    private final int sampling;

    DebugChecks(MemorySegment memory, long base, int sampling) {
        this.memory = memory;
        this.base = base;
        this.sampling = sampling;
    }

    /** Whether this call's stack is recorded: a stack trace is most of the debug mode's cost. */
    private boolean sampled() {
        return sampling == 1 || java.util.concurrent.ThreadLocalRandom.current().nextInt(sampling) == 0;
    }

    /**
     * Memory at {@code offset} was just handed out: check the poison of whatever was freed there
     * before, and record who took it.
     *
     * @throws IllegalStateException if it was written after its last free; it is not handed out
     */
    void allocated(long offset, long bytes) {
        claimed(offset, bytes);
        long address = base + offset;
        live.put(address, new Owner("allocated", address, bytes, 0, sampled()));
    }

    /**
     * Memory at {@code offset} leaves the free memory (handed out, or taken for a slab, whose
     * carving writes into it): every freed piece it overlaps must still hold its poison there, and
     * is forgotten, since the memory is no longer free. (Forgetting a piece that reaches past the
     * range loses the rest of its check: the debug mode catches what it can.)
     *
     * @throws IllegalStateException if the memory was written after a free
     */
    void claimed(long offset, long bytes) {
        long start = base + offset;
        long end = start + bytes;
        java.util.Map.Entry<Long, Owner> before = freed.lowerEntry(start);
        if (before != null && before.getKey() + before.getValue().bytes > start) {
            verify(before.getKey(), before.getValue(), start, end);
            freed.remove(before.getKey(), before.getValue());
        }
        for (java.util.Map.Entry<Long, Owner> piece : freed.subMap(start, end).entrySet()) {
            verify(piece.getKey(), piece.getValue(), start, end);
            freed.remove(piece.getKey(), piece.getValue());
        }
    }

    /** Checks the poison of a freed piece where it overlaps [start, end). */
    private void verify(long pieceStart, Owner lastFree, long start, long end) {
        long from = Math.max(pieceStart + lastFree.header, start);
        long to = Math.min(pieceStart + lastFree.bytes, end);
        for (long address = from; address < to; address++) {
            byte found = memory.get(JAVA_BYTE, address - base);
            if (found != POISON) {
                freed.remove(pieceStart, lastFree);
                throw new IllegalStateException("use after free: 0x" + Long.toHexString(pieceStart) + " ("
                        + lastFree.bytes + " bytes) was written at offset " + (address - pieceStart) + " (0x"
                        + Integer.toHexString(found & 0xff) + " where the poison 0x6b was) after it was freed; "
                        + "what was being handed out there is kept out of use. Last " + lastFree.describe());
            }
        }
    }

    /** Memory at {@code offset}, checked to be a live allocation, is about to be freed: poison it. */
    void freeing(long offset, long bytes, boolean slabObject) {
        long address = base + offset;
        live.remove(address);
        long header = slabObject ? SLAB_HEADER : 0;
        if (bytes > header) {
            memory.asSlice(offset + header, bytes - header).fill(POISON);
        }
        freed.put(address, new Owner("freed", address, bytes, header, sampled()));
    }

    /**
     * Whether an allocation starting at the address is live: handed out and not freed. Every
     * allocation is recorded, sampled or not, so this catches the double free of an object whose
     * free marker a use after free overwrote, which the slab layer alone takes for a live object.
     */
    boolean isLive(long address) {
        return live.containsKey(address);
    }

    /** A mapping above the largest block was handed out: recorded, not poisoned (its free unmaps it). */
    void allocatedLarge(long address, long bytes) {
        live.put(address, new Owner("allocated", address, bytes, 0, sampled()));
    }

    /** A mapping above the largest block is being freed. */
    void freeingLarge(long address) {
        live.remove(address);
    }

    /** Where the allocation at an address was made; "" if unknown. */
    String allocationSite(long address) {
        Owner owner = live.get(address);
        return owner == null ? "" : owner.describe();
    }

    /** Where the memory at an address was last freed, for a double free's report; "" if unknown. */
    String lastFree(long address) {
        Owner owner = freed.get(address);
        return owner == null ? "" : " It was " + owner.describe();
    }

    /** Watches a ByteBuffer handed out: if it becomes unreachable before its release, that is a leak. */
    void watch(Object buffer, long address, long bytes) {
        Owner site = live.get(address);
        String where = site != null ? site.describe() : "0x" + Long.toHexString(address);
        Map<Long, Owner> liveNow = live;
        cleaner.register(buffer, () -> {
            if (site != null && liveNow.get(address) == site) {
                lostBuffers.add("a ByteBuffer of " + bytes + " bytes became unreachable without release: " + where);
            }
        });
    }

    /**
     * The allocations still live, each with where it was made, up to {@link #MAX_REPORTED_LEAKS}
     * of them and then a count of the rest, and every ByteBuffer lost; "" if none. Capped, as
     * LeakSanitizer's report is, because a program that holds the whole region when it closes
     * would otherwise print hundreds of thousands of stacks.
     */
    String leakReport() {
        List<String> lines = new ArrayList<>(lostBuffers);
        long unlisted = 0;
        long unlistedBytes = 0;
        for (Owner owner : live.values()) {
            if (lines.size() < MAX_REPORTED_LEAKS) {
                lines.add("leak: " + owner.describe());
            } else {
                unlisted++;
                unlistedBytes += owner.bytes;
            }
        }
        if (unlisted > 0) {
            lines.add("leak: " + unlisted + " more allocations (" + unlistedBytes + " bytes) are live, not listed");
        }
        return String.join("\n", lines);
    }
}
