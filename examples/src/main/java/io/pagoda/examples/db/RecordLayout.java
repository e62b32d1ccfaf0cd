package io.pagoda.examples.db;

/**
 * The layout of a record: one key and one version of its value, in one block of a segment's memory.
 *
 * <pre>
 * offset  size  field         meaning
 *      0     4  keyLength     bytes of the key
 *      4     4  valueLength   bytes of the value
 *      8     k  key
 *    8+k     v  value
 * </pre>
 *
 * A record is written once and never changed: an update appends a new record and points the index
 * at it (the old one is {@linkplain RecordMemory#release released}).
 */
final class RecordLayout {

    static final long KEY_LENGTH_OFFSET = 0;
    static final long VALUE_LENGTH_OFFSET = KEY_LENGTH_OFFSET + Integer.BYTES;
    static final long KEY_OFFSET = VALUE_LENGTH_OFFSET + Integer.BYTES;

    private RecordLayout() {
    }

    /** Writes a new record into a new block of {@code memory}, and returns its handle. */
    static long write(RecordMemory memory, byte[] key, int keyLength, byte[] value, int valueLength) {
        long record = memory.allocate(KEY_OFFSET + keyLength + valueLength);
        memory.setInt(record, KEY_LENGTH_OFFSET, keyLength);
        memory.setInt(record, VALUE_LENGTH_OFFSET, valueLength);
        memory.write(record, KEY_OFFSET, key, keyLength);
        memory.write(record, KEY_OFFSET + keyLength, value, valueLength);
        return record;
    }

    /** Whether the record's key is the first {@code keyLength} bytes of {@code key}. */
    static boolean hasKey(RecordMemory memory, long record, byte[] key, int keyLength) {
        return memory.getInt(record, KEY_LENGTH_OFFSET) == keyLength
                && memory.contentEquals(record, KEY_OFFSET, key, keyLength);
    }

    /**
     * Copies the record's value into {@code destination}, and returns its length.
     *
     * @throws IllegalArgumentException if {@code destination} is shorter than the value
     */
    static int readValue(RecordMemory memory, long record, byte[] destination) {
        int keyLength = memory.getInt(record, KEY_LENGTH_OFFSET);
        int valueLength = memory.getInt(record, VALUE_LENGTH_OFFSET);
        if (valueLength > destination.length) {
            throw new IllegalArgumentException("the value has " + valueLength + " bytes; the destination holds "
                    + destination.length);
        }
        memory.read(record, KEY_OFFSET + keyLength, destination, valueLength);
        return valueLength;
    }
}
