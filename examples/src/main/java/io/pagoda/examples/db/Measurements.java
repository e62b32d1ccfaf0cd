package io.pagoda.examples.db;

import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.StringJoiner;

/**
 * What one back end's run measured, and its one-line form ({@code RESULT name=value ...}) that a
 * child JVM prints and the parent reads back.
 *
 * @param loadPerSecond     records bulk-loaded per second
 * @param getPerSecond      point gets per second (random keys, every one present)
 * @param updatePerSecond   updates per second, each appending a new version of a record
 * @param dropMillis        the table's drop: the segments' memories closed
 * @param gcAfterDropMillis an explicit {@code System.gc()} right after the drop
 * @param reloadPerSecond   records loaded per second into the same table made again after the drop
 * @param rssSettled        resident memory {@link TableBenchmark#SETTLE_SECONDS} seconds after the
 *                          drop, nothing running: what the back end gave back to the kernel by then
 * @param gcCount           collections during load, gets and updates
 * @param gcMillis          their time, as the collectors' MXBeans count it
 * @param checksum          of every value the gets read: equal for every back end
 */
record Measurements(String backend, long records, double loadPerSecond, double getPerSecond, double updatePerSecond,
                    double dropMillis, double gcAfterDropMillis, double reloadPerSecond, long rssStart,
                    long rssAfterLoad, long rssAfterUpdates, long rssAfterDrop, long rssSettled, long rssAfterReload, long peakRss,
                    long heapAfterLoad, long heapCommittedAfterUpdates, long gcCount, long gcMillis, long checksum) {

    static final String PREFIX = "RESULT ";

    String toLine() {
        StringJoiner line = new StringJoiner(" ", PREFIX, "");
        try {
            for (RecordComponent component : Measurements.class.getRecordComponents()) {
                line.add(component.getName() + "=" + component.getAccessor().invoke(this));
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
        return line.toString();
    }

    /**
     * The measurements of a line made by {@link #toLine()}.
     *
     * @throws IllegalArgumentException if the line is not one
     */
    static Measurements parse(String line) {
        if (!line.startsWith(PREFIX)) {
            throw new IllegalArgumentException("not a result line: " + line);
        }
        Map<String, String> fields = new HashMap<>();
        for (String field : line.substring(PREFIX.length()).split(" ")) {
            int equals = field.indexOf('=');
            fields.put(field.substring(0, equals), field.substring(equals + 1));
        }
        RecordComponent[] components = Measurements.class.getRecordComponents();
        Object[] values = new Object[components.length];
        for (int i = 0; i < components.length; i++) {
            String text = fields.get(components[i].getName());
            if (text == null) {
                throw new IllegalArgumentException("no " + components[i].getName() + " in " + line);
            }
            Class<?> type = components[i].getType();
            values[i] = type == long.class ? Long.parseLong(text) : type == double.class ? Double.parseDouble(text) : text;
        }
        try {
            Class<?>[] types = Arrays.stream(components).map(RecordComponent::getType).toArray(Class<?>[]::new);
            return Measurements.class.getDeclaredConstructor(types).newInstance(values);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
