package io.pagoda.examples.server;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A server's {@code -Xlog:gc} file, read from an offset on: the stop-the-world pauses logged
 * since, and their total time. Every collector logs each pause at this level as one line ending
 * in its duration ({@code GC(7) Pause Young (Normal) (G1 Evacuation Pause) 40M->3M(256M) 1.234ms},
 * {@code GC(9) Pause Full (System.gc()) ...}); concurrent phases are not pauses and are left out.
 */
final class GcLog {

    private static final Pattern PAUSE = Pattern.compile("(?m)\\) Pause .* ([\\d.]+)ms$");

    /** Pauses counted and their total. */
    record Pauses(int count, double totalMillis) {
    }

    private final Path file;

    GcLog(Path file) {
        this.file = file;
    }

    /** The JVM option that writes this log. */
    String jvmOption() {
        return "-Xlog:gc:file=" + file;
    }

    /** Bytes logged so far: the offset to count pauses from, later. */
    long size() {
        try {
            return Files.exists(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The pauses logged after {@code offset}. */
    Pauses pausesSince(long offset) {
        try (RandomAccessFile log = new RandomAccessFile(file.toFile(), "r")) {
            byte[] tail = new byte[(int) Math.max(0, log.length() - offset)];
            log.seek(offset);
            log.readFully(tail);
            return pauses(new String(tail, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the GC log " + file, e);
        }
    }

    static Pauses pauses(String log) {
        Matcher pause = PAUSE.matcher(log);
        int count = 0;
        double total = 0;
        while (pause.find()) {
            count++;
            total += Double.parseDouble(pause.group(1));
        }
        return new Pauses(count, total);
    }
}
