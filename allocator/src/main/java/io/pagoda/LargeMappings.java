package io.pagoda;

import io.pagoda.region.Region;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Allocations larger than the largest block: each a mapping of its own outside the region, with
 * a shared arena of its own, so that freeing it makes every segment over it inaccessible (an
 * access after free throws, where an unmapped page would crash the JVM).
 *
 * <p>Invariant: a mapping is in {@link #byAddress} from its allocation to its free, and its JDK
 * arena is closed exactly once, by whoever removes it from there (a free, or the allocator's
 * close) and has it unmapped; a mapping the JDK refuses to unmap goes back in.
 */
final class LargeMappings {

    /**
     * A mapping's JDK arena, its whole memory (every page mapped, beyond the size asked), and
     * whether one of Pagoda's arenas took it, which only that arena's close may free.
     */
    private record Mapping(Arena arena, MemorySegment pages, boolean arenaOwned) {
    }

    private final ConcurrentHashMap<Long, Mapping> byAddress = new ConcurrentHashMap<>();
    private final long alignment;
    private final boolean useMapping;

    LargeMappings(long alignment, boolean useMapping) {
        this.alignment = alignment;
        this.useMapping = useMapping;
    }

    /** Most bytes one mapping may ask for: 2^47, the user address space of x86-64 and AArch64 Linux. */
    static final long MAX_MAPPING = 1L << 47;

    /**
     * @throws IllegalArgumentException if byteSize is more than the address space
     * @throws OutOfMemoryError         if the operating system refuses the mapping
     */
    MemorySegment allocate(long byteSize) {
        if (byteSize > MAX_MAPPING) {
            throw tooLarge(byteSize);
        }
        Arena arena = Arena.ofShared();
        MemorySegment pages;
        try {
            // Whole pages: the address API's users (a Netty buffer growing in place) may use them,
            // and an FFM allocation, unlike mmap, has no page's slack.
            pages = Region.mapping(arena, mappedBytes(byteSize), alignment, useMapping);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
        byAddress.put(pages.address(), new Mapping(arena, pages, false));
        return pages.asSlice(0, byteSize);
    }

    /** The whole memory of the mapping that starts at an address (its mapped pages), or null if none does. */
    MemorySegment pagesAt(long address) {
        Mapping mapping = byAddress.get(address);
        return mapping == null ? null : mapping.pages;
    }

    /** The bytes a mapping for {@code byteSize} holds: whole pages, what usableSize tells of it. */
    long mappedBytes(long byteSize) {
        return (byteSize + alignment - 1) & -alignment;
    }

    /** The refusal of a size no mapping can have: the same from allocate and from usableSize. */
    static IllegalArgumentException tooLarge(long byteSize) {
        return new IllegalArgumentException("byteSize " + byteSize + " is more than a process's address space ("
                + MAX_MAPPING + " bytes)");
    }

    /** Whether a segment is one of the mappings (or a slice of one): it has a mapping's scope. */
    boolean holds(MemorySegment segment) {
        Mapping mapping = byAddress.get(segment.address());
        return mapping != null && mapping.pages.scope() == segment.scope();
    }

    /**
     * Unmaps the mapping at an address.
     *
     * @throws IllegalArgumentException if no mapping starts there, or an arena took it
     * @throws IllegalStateException    if another thread frees it at the same moment, or if it is in
     *         use by a native call or an I/O operation (the JDK refuses to unmap it then): it stays
     *         allocated, as if this free had not been called
     */
    void free(long address, String describeAllocator) {
        free(address, describeAllocator, false);
    }

    /** Marks the mapping at an address, just allocated, as a Pagoda arena's. */
    void claimForArena(long address) {
        byAddress.computeIfPresent(address, (at, mapping) -> new Mapping(mapping.arena, mapping.pages, true));
    }

    /** An arena's close: unmaps a mapping it took, as {@link #free(long, String)} does. */
    void freeForArena(long address, String describeAllocator) {
        free(address, describeAllocator, true);
    }

    private void free(long address, String describeAllocator, boolean byItsArena) {
        Mapping mapping = byAddress.get(address);
        if (mapping == null) {
            throw new IllegalArgumentException("0x" + Long.toHexString(address) + " was not allocated by this allocator "
                    + describeAllocator + ", or was freed already");
        }
        if (mapping.arenaOwned && !byItsArena) {
            // Its segments have the arena's scope, not the mapping's: unmapped under them, they
            // would reach unmapped memory and crash the JVM.
            throw new IllegalArgumentException("the mapping at 0x" + Long.toHexString(address) + " belongs to an arena, "
                    + "which frees it when it closes");
        }
        if (!byAddress.remove(address, mapping)) {
            throw new IllegalStateException("double free: the mapping at 0x" + Long.toHexString(address)
                    + " is being freed by another thread");
        }
        IllegalStateException refused = unmap(address, mapping);
        if (refused != null) {
            throw new IllegalStateException("the mapping at 0x" + Long.toHexString(address) + " is in use by a native call or "
                    + "an I/O operation, and stays allocated: free it once that use ends", refused);
        }
    }

    /**
     * Unmaps a mapping just taken out of the map; every segment over it is inaccessible from then
     * on. If the JDK refuses (a native call or an I/O operation holds it), puts it back, since out
     * of the map no one could ever unmap it, and returns the refusal.
     */
    private IllegalStateException unmap(long address, Mapping mapping) {
        try {
            mapping.arena.close();
            return null;
        } catch (IllegalStateException inUse) {
            byAddress.put(address, mapping);
            return inUse;
        }
    }

    /**
     * Unmaps every mapping left: the allocator is closing.
     *
     * @throws IllegalStateException if a mapping is in use by a native call or an I/O operation
     *         (the JDK refuses to unmap it then); it stays here, and the others are unmapped, so
     *         that a later call unmaps what is left
     */
    void freeAll() {
        IllegalStateException refused = null;
        // A copy: the live view's iterator follows a removed node to the tail of its bin, where a
        // refused mapping is put back, so two refused mappings of one bin were visited forever.
        for (Long address : List.copyOf(byAddress.keySet())) {
            Mapping mapping = byAddress.remove(address);
            IllegalStateException inUse = mapping == null ? null : unmap(address, mapping);
            refused = refused == null ? inUse : refused;
        }
        if (refused != null) {
            throw refused;
        }
    }
}
