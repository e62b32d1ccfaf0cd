package io.pagoda.examples.db;

/**
 * The memory of one table segment: where its records and its hash index live, as blocks named by
 * a {@code long} handle (never {@link #NO_BLOCK}), dropped all together by {@link #close()}.
 *
 * <p>The three back ends differ only here: a handle is a native address inside an arena (Pagoda's
 * or the JDK's), or the number of a {@code byte[]} on the heap. Everything above (the record
 * layout, the index, the probing) is the same code for all three, so a benchmark compares the
 * memory and nothing else.
 *
 * <p>Offsets are in bytes from a block's start; longs and ints are read at offsets aligned to
 * their size (blocks are 8-byte aligned). Not thread-safe for writes: one writer at a time, and
 * readers only once its writes are published (by a thread start or join).
 */
interface RecordMemory extends AutoCloseable {

    /** The handle that names no block: an empty slot of the index. */
    long NO_BLOCK = 0;

    /** A new block of {@code bytes}, 8-byte aligned, with undefined contents. */
    long allocate(long bytes);

    /** A new block of {@code bytes}, 8-byte aligned, all zero. */
    long allocateZeroed(long bytes);

    /**
     * Says that a block is no longer referenced. The heap lets the collector have it; an arena
     * cannot free one allocation, and keeps it until {@link #close()}, as a log segment keeps
     * superseded versions until it is compacted or dropped.
     */
    void release(long handle);

    int getInt(long handle, long offset);

    void setInt(long handle, long offset, int value);

    long getLong(long handle, long offset);

    void setLong(long handle, long offset, long value);

    /** Copies {@code length} bytes of {@code source} into the block at {@code offset}. */
    void write(long handle, long offset, byte[] source, int length);

    /** Copies {@code length} bytes of the block at {@code offset} into {@code destination}. */
    void read(long handle, long offset, byte[] destination, int length);

    /** Whether the block holds exactly the first {@code length} bytes of {@code bytes} at {@code offset}. */
    boolean contentEquals(long handle, long offset, byte[] bytes, int length);

    /**
     * Drops every block at once. Afterwards any access through this memory throws
     * {@link IllegalStateException}.
     */
    @Override
    void close();
}
