package io.pagoda.examples.db;

/**
 * An open-addressing hash index from keys to records, kept in the segment's own memory (so it is
 * dropped with the records): a power-of-two array of 16-byte slots, probed linearly from
 * {@code hash & mask}.
 *
 * <pre>
 * offset  size  field    meaning
 *      0     8  hash     the key's full 64-bit hash: most mismatches are rejected without reading the record
 *      8     8  record   the record's handle; {@link RecordMemory#NO_BLOCK} marks an empty slot
 * </pre>
 *
 * <p>Invariants: at most {@value #MAX_LOAD_PERCENT}% of the slots are full (above that, linear
 * probing's runs grow quickly), so a probe always ends at an empty slot; there are no deletions,
 * so no tombstones. Growing doubles the array and re-places every slot by its stored hash without
 * reading a record; the old array is released (an arena keeps it until the segment is dropped,
 * which is why a table is created with the number of records it expects).
 */
final class HashIndex {

    static final int MAX_LOAD_PERCENT = 70;

    private static final long SLOT_BYTES = 16;
    private static final long HASH_OFFSET = 0;
    private static final long RECORD_OFFSET = 8;
    private static final long MIN_SLOTS = 16;

    private final RecordMemory memory;
    private long slots;
    private long mask;
    private long size;
    private long growAt;

    /** An empty index in {@code memory}, sized so that {@code expectedRecords} keys fit without growing. */
    HashIndex(RecordMemory memory, long expectedRecords) {
        if (expectedRecords < 0) {
            throw new IllegalArgumentException("expectedRecords must not be negative: " + expectedRecords);
        }
        this.memory = memory;
        long needed = Math.max(MIN_SLOTS, expectedRecords * 100 / MAX_LOAD_PERCENT + 1);
        allocateSlots(Long.highestOneBit(needed - 1) << 1);
    }

    /** The record of the key, or {@link RecordMemory#NO_BLOCK} if the key is not in the index. */
    long find(long hash, byte[] key, int keyLength) {
        for (long slot = hash & mask; ; slot = (slot + 1) & mask) {
            long offset = slot * SLOT_BYTES;
            long record = memory.getLong(slots, offset + RECORD_OFFSET);
            if (record == RecordMemory.NO_BLOCK
                    || memory.getLong(slots, offset + HASH_OFFSET) == hash
                    && RecordLayout.hasKey(memory, record, key, keyLength)) {
                return record;
            }
        }
    }

    /**
     * Points the key at {@code record}, and returns the record it pointed at before, or
     * {@link RecordMemory#NO_BLOCK} if the key is new.
     */
    long put(long hash, byte[] key, int keyLength, long record) {
        for (long slot = hash & mask; ; slot = (slot + 1) & mask) {
            long offset = slot * SLOT_BYTES;
            long current = memory.getLong(slots, offset + RECORD_OFFSET);
            if (current == RecordMemory.NO_BLOCK) {
                memory.setLong(slots, offset + HASH_OFFSET, hash);
                memory.setLong(slots, offset + RECORD_OFFSET, record);
                if (++size > growAt) {
                    grow();
                }
                return RecordMemory.NO_BLOCK;
            }
            if (memory.getLong(slots, offset + HASH_OFFSET) == hash
                    && RecordLayout.hasKey(memory, current, key, keyLength)) {
                memory.setLong(slots, offset + RECORD_OFFSET, record);
                return current;
            }
        }
    }

    /** The number of keys. */
    long size() {
        return size;
    }

    private void grow() {
        long oldSlots = slots;
        long oldCount = mask + 1;
        allocateSlots(oldCount * 2);
        for (long old = 0; old < oldCount; old++) {
            long record = memory.getLong(oldSlots, old * SLOT_BYTES + RECORD_OFFSET);
            if (record != RecordMemory.NO_BLOCK) {
                long hash = memory.getLong(oldSlots, old * SLOT_BYTES + HASH_OFFSET);
                long slot = hash & mask;
                while (memory.getLong(slots, slot * SLOT_BYTES + RECORD_OFFSET) != RecordMemory.NO_BLOCK) {
                    slot = (slot + 1) & mask;
                }
                memory.setLong(slots, slot * SLOT_BYTES + HASH_OFFSET, hash);
                memory.setLong(slots, slot * SLOT_BYTES + RECORD_OFFSET, record);
            }
        }
        memory.release(oldSlots);
    }

    private void allocateSlots(long count) {
        slots = memory.allocateZeroed(count * SLOT_BYTES);
        mask = count - 1;
        growAt = count * MAX_LOAD_PERCENT / 100;
    }
}
