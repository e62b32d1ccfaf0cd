package io.pagoda.examples.db;

import io.pagoda.PageAllocator;

import java.lang.foreign.Arena;

/**
 * A storage back end: makes the memory of each table segment. The three back ends of the
 * comparison are here, one line each, so that what differs between them is plain to see.
 */
@FunctionalInterface
interface Storage extends AutoCloseable {

    /** The memory of a new table segment, dropped with one {@link RecordMemory#close()}. */
    RecordMemory newSegmentMemory();

    /** Gives back what the back end itself holds; the segments' memories must be closed first. */
    @Override
    default void close() {
    }

    /** A Pagoda arena per segment: bump allocation from page blocks, one free per block at close. */
    static Storage pagoda(PageAllocator pages) {
        return () -> new ArenaMemory(pages.newSharedArena());
    }

    /** A JDK {@code Arena.ofShared()} per segment: a {@code malloc} per record, a {@code free} each at close. */
    static Storage jdkArena() {
        return () -> new ArenaMemory(Arena.ofShared());
    }

    /** A {@code byte[]} per record on the heap, reclaimed by the garbage collector. */
    static Storage heap() {
        return HeapMemory::new;
    }
}
