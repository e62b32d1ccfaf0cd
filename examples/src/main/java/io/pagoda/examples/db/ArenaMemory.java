package io.pagoda.examples.db;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A table segment's memory in one {@link Arena} (a Pagoda arena or the JDK's {@code Arena.ofShared()}):
 * one {@code arena.allocate} per block, a handle is the block's native address, and closing the
 * arena drops everything.
 *
 * <p>The index keeps handles, 8 bytes each, not {@link MemorySegment} objects: a table of millions
 * of records then costs the heap nothing per record. Blocks are reached through {@link #memory},
 * one segment over the whole address space in the arena's scope, so every access is still checked
 * by the JDK against the arena's lifetime: once the arena is closed, any read or write throws
 * {@link IllegalStateException}, however the handle was kept. What it gives up is the bounds
 * check of each block (a handle is trusted, as a database trusts its own index). Making that
 * segment is a restricted operation: the process needs
 * {@code --enable-native-access=io.pagoda.examples} (or {@code ALL-UNNAMED} on the class path).
 */
final class ArenaMemory implements RecordMemory {

    private static final long ALIGNMENT = 8;

    private final Arena arena;
    /** Address 0 to {@code Long.MAX_VALUE}, alive exactly as long as the arena. */
    private final MemorySegment memory;

    ArenaMemory(Arena arena) {
        this.arena = arena;
        this.memory = MemorySegment.NULL.reinterpret(Long.MAX_VALUE, arena, null);
    }

    /** The scope every block of this memory lives in. */
    MemorySegment.Scope scope() {
        return arena.scope();
    }

    @Override
    public long allocate(long bytes) {
        return arena.allocate(bytes, ALIGNMENT).address();
    }

    @Override
    public long allocateZeroed(long bytes) {
        MemorySegment block = arena.allocate(bytes, ALIGNMENT);
        block.fill((byte) 0); // Pagoda's arenas hand memory back as it was left; the JDK's zero it already
        return block.address();
    }

    @Override
    public void release(long handle) {
        // An arena frees only everything at once: the block stays until close().
    }

    @Override
    public int getInt(long handle, long offset) {
        return memory.get(JAVA_INT, handle + offset);
    }

    @Override
    public void setInt(long handle, long offset, int value) {
        memory.set(JAVA_INT, handle + offset, value);
    }

    @Override
    public long getLong(long handle, long offset) {
        return memory.get(JAVA_LONG, handle + offset);
    }

    @Override
    public void setLong(long handle, long offset, long value) {
        memory.set(JAVA_LONG, handle + offset, value);
    }

    @Override
    public void write(long handle, long offset, byte[] source, int length) {
        MemorySegment.copy(source, 0, memory, JAVA_BYTE, handle + offset, length);
    }

    @Override
    public void read(long handle, long offset, byte[] destination, int length) {
        MemorySegment.copy(memory, JAVA_BYTE, handle + offset, destination, 0, length);
    }

    @Override
    public boolean contentEquals(long handle, long offset, byte[] bytes, int length) {
        long start = handle + offset;
        return MemorySegment.mismatch(memory, start, start + length, MemorySegment.ofArray(bytes), 0, length) < 0;
    }

    @Override
    public void close() {
        arena.close();
    }
}
