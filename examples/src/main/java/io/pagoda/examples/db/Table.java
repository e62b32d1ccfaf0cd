package io.pagoda.examples.db;

import java.util.Objects;

/**
 * A key-value table split by key hash into segments, each with its own memory (an arena, for the
 * off-heap back ends) holding its hash index and its records; {@link #drop()} closes every
 * segment's memory, so a table of millions of records goes in as many calls as it has segments.
 *
 * <p>Keys and values are byte strings passed as an array and a length, so that a caller can reuse
 * its buffers and the heap sees no garbage per operation. Updates append a new version of the
 * record. One thread writes; any number may read once the writes are published (a thread start or
 * join): there is no lock, as in a bulk-loaded read-mostly table or a hash join's build side.
 */
final class Table {

    /** What {@link #get} returns for a key that is not in the table. */
    static final int NOT_FOUND = -1;

    /** The segment is picked by the hash's top bits, the index slot by its low bits. */
    private static final int SEGMENT_SHIFT = 48;
    static final int MAX_SEGMENTS = 1 << (Long.SIZE - SEGMENT_SHIFT);

    private final String name;
    private final RecordMemory[] memories;
    private final HashIndex[] indexes;
    private final int segmentMask;
    private boolean dropped;

    /**
     * An empty table whose segments come from {@code storage}, sized for {@code expectedRecords}.
     *
     * @throws IllegalArgumentException if {@code segments} is not a power of two from 1 to
     *         {@value #MAX_SEGMENTS}, or {@code expectedRecords} is negative
     */
    Table(String name, Storage storage, int segments, long expectedRecords) {
        if (segments < 1 || segments > MAX_SEGMENTS || Integer.bitCount(segments) != 1) {
            throw new IllegalArgumentException("segments must be a power of two from 1 to " + MAX_SEGMENTS
                    + ": " + segments);
        }
        if (expectedRecords < 0) {
            throw new IllegalArgumentException("expectedRecords must not be negative: " + expectedRecords);
        }
        this.name = Objects.requireNonNull(name, "name");
        this.memories = new RecordMemory[segments];
        this.indexes = new HashIndex[segments];
        this.segmentMask = segments - 1;
        long perSegment = (expectedRecords + segments - 1) / segments;
        for (int i = 0; i < segments; i++) {
            memories[i] = storage.newSegmentMemory();
            indexes[i] = new HashIndex(memories[i], perSegment);
        }
    }

    /** Sets the key's value: a new record, which the key's index slot then points at. */
    void put(byte[] key, int keyLength, byte[] value, int valueLength) {
        checkLength(key, keyLength);
        checkLength(value, valueLength);
        long hash = KeyHash.hash(key, keyLength);
        int segment = segmentOf(hash);
        RecordMemory memory = memories[segment];
        long record = RecordLayout.write(memory, key, keyLength, value, valueLength);
        long replaced = indexes[segment].put(hash, key, keyLength, record);
        if (replaced != RecordMemory.NO_BLOCK) {
            memory.release(replaced);
        }
    }

    /**
     * Copies the key's latest value into {@code destination}, and returns its length, or
     * {@link #NOT_FOUND}.
     *
     * @throws IllegalArgumentException if {@code destination} is shorter than the value
     * @throws IllegalStateException    if the table was dropped (for an arena, the JDK's own check
     *                                  of the segment's scope)
     */
    int get(byte[] key, int keyLength, byte[] destination) {
        checkLength(key, keyLength);
        long hash = KeyHash.hash(key, keyLength);
        int segment = segmentOf(hash);
        long record = indexes[segment].find(hash, key, keyLength);
        return record == RecordMemory.NO_BLOCK ? NOT_FOUND : RecordLayout.readValue(memories[segment], record, destination);
    }

    /** The number of keys. */
    long size() {
        long size = 0;
        for (HashIndex index : indexes) {
            size += index.size();
        }
        return size;
    }

    int segments() {
        return memories.length;
    }

    /** The memory of one segment, to look at from a test. */
    RecordMemory segmentMemory(int segment) {
        return memories[segment];
    }

    /**
     * Drops the table: closes every segment's memory, one call each whatever the number of records.
     *
     * @throws IllegalStateException if the table was dropped already
     */
    void drop() {
        if (dropped) {
            throw new IllegalStateException("table '" + name + "' was dropped already");
        }
        dropped = true;
        for (RecordMemory memory : memories) {
            memory.close();
        }
    }

    @Override
    public String toString() {
        return "Table[" + name + ", " + memories.length + " segments" + (dropped ? ", dropped" : "") + "]";
    }

    private int segmentOf(long hash) {
        return (int) (hash >>> SEGMENT_SHIFT) & segmentMask;
    }

    private static void checkLength(byte[] bytes, int length) {
        if (length < 0 || length > bytes.length) {
            throw new IllegalArgumentException("length " + length + " is outside the array of " + bytes.length + " bytes");
        }
    }
}
