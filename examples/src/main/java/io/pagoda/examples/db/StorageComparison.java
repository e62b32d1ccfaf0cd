package io.pagoda.examples.db;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * The database example's main program: a key-value table of variable-length records in segments
 * (an off-heap hash index and the records in each segment's memory), run on each back end in a
 * JVM of its own, so that resident memory and garbage collection do not mix; then one table side
 * by side: load, get and update throughput, the time to drop the table, resident memory after
 * each step (and after loading the table again: is the dropped memory reused?), and the
 * collectors' work.
 *
 * <p>Arguments (also as one string, as Maven's {@code -Dexample.args} passes them):
 * {@code [records] [back end...]}: records as a number, or with {@code k} or {@code m}
 * (default {@code 1m}); back ends among {@code pagoda}, {@code jdk-arena}, {@code heap}
 * (default all three). {@code --child <back end> <records>} runs one back end in this JVM and
 * prints its result line: that is what each child JVM runs.
 */
public final class StorageComparison {

    private static final String CHILD = "--child";
    private static final String MAIN = "io.pagoda.examples.db.StorageComparison";

    private StorageComparison() {
    }

    public static void main(String[] arguments) throws IOException, InterruptedException {
        String[] args = String.join(" ", arguments).trim().split("\\s+");
        if (args[0].equals(CHILD)) {
            if (args.length != 3) {
                throw new IllegalArgumentException("usage: " + CHILD + " <back end> <records>");
            }
            System.out.println(TableBenchmark.run(Backend.of(args[1]), parseCount(args[2])).toLine());
            return;
        }
        long records = args[0].isEmpty() ? 1_000_000 : parseCount(args[0]);
        List<Backend> backends = args.length > 1
                ? Arrays.stream(args, 1, args.length).map(Backend::of).toList()
                : List.of(Backend.values());
        List<Measurements> results = new ArrayList<>();
        for (Backend backend : backends) {
            System.out.printf("%s: %,d records in %d segments, in a JVM of its own...%n",
                    backend.label(), records, TableBenchmark.segmentsFor(records));
            results.add(runChild(backend, records));
        }
        System.out.println();
        System.out.print(table(results));
    }

    /** Runs one back end in a new JVM with this one's module or class path, and reads its result. */
    private static Measurements runChild(Backend backend, long records) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java"));
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null) {
            command.addAll(List.of("--enable-native-access=io.pagoda,io.pagoda.examples",
                    "--module-path", modulePath, "--module", "io.pagoda.examples/" + MAIN));
        } else {
            command.addAll(List.of("--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), MAIN));
        }
        command.addAll(List.of(CHILD, backend.label(), Long.toString(records)));
        Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Measurements result = null;
        try (BufferedReader output = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = output.readLine(); line != null; line = output.readLine()) {
                if (line.startsWith(Measurements.PREFIX)) {
                    result = Measurements.parse(line);
                } else {
                    System.out.println(line);
                }
            }
        }
        int exit = child.waitFor();
        if (exit != 0 || result == null) {
            throw new IllegalStateException("the " + backend.label() + " run exited with " + exit
                    + (result == null ? " and no result" : ""));
        }
        return result;
    }

    /** The results side by side, as a Markdown table: one row per measure, one column per back end. */
    static String table(List<Measurements> results) {
        StringBuilder table = new StringBuilder("| " + String.format("%,d", results.getFirst().records()) + " records |");
        StringBuilder rule = new StringBuilder("|---|");
        for (Measurements result : results) {
            table.append(' ').append(result.backend()).append(" |");
            rule.append("---:|");
        }
        table.append('\n').append(rule).append('\n');
        row(table, results, "load (records/s)", m -> millions(m.loadPerSecond()));
        row(table, results, "get, random keys (gets/s)", m -> millions(m.getPerSecond()));
        row(table, results, "update, a new version (records/s)", m -> millions(m.updatePerSecond()));
        row(table, results, "drop the table (ms)", m -> format("%.2f", m.dropMillis()));
        row(table, results, "System.gc() after the drop (ms)", m -> format("%.1f", m.gcAfterDropMillis()));
        row(table, results, "load again after the drop (records/s)", m -> millions(m.reloadPerSecond()));
        row(table, results, "RSS at start (MiB)", m -> mebibytes(m.rssStart()));
        row(table, results, "RSS after load (MiB)", m -> mebibytes(m.rssAfterLoad()));
        row(table, results, "RSS after updates (MiB)", m -> mebibytes(m.rssAfterUpdates()));
        row(table, results, "RSS after drop + GC (MiB)", m -> mebibytes(m.rssAfterDrop()));
        row(table, results, "RSS " + TableBenchmark.SETTLE_SECONDS + " s after the drop (MiB)", m -> mebibytes(m.rssSettled()));
        row(table, results, "RSS after loading it again (MiB)", m -> mebibytes(m.rssAfterReload()));
        row(table, results, "peak RSS, VmHWM (MiB)", m -> mebibytes(m.peakRss()));
        row(table, results, "heap used after load (MiB)", m -> mebibytes(m.heapAfterLoad()));
        row(table, results, "heap committed after updates (MiB)", m -> mebibytes(m.heapCommittedAfterUpdates()));
        row(table, results, "GCs during load, gets, updates", m -> Long.toString(m.gcCount()));
        row(table, results, "GC time during them (ms)", m -> Long.toString(m.gcMillis()));
        row(table, results, "checksum of the values read", m -> Long.toHexString(m.checksum()));
        return table.toString();
    }

    private static void row(StringBuilder table, List<Measurements> results, String name,
                            Function<Measurements, String> cell) {
        table.append("| ").append(name).append(" |");
        for (Measurements result : results) {
            table.append(' ').append(cell.apply(result)).append(" |");
        }
        table.append('\n');
    }

    private static String millions(double perSecond) {
        return format("%.2f M", perSecond / 1e6);
    }

    private static String mebibytes(long bytes) {
        return bytes < 0 ? "n/a" : Long.toString(bytes >> 20);
    }

    private static String format(String format, double value) {
        return String.format(Locale.ROOT, format, value);
    }

    /** A count such as {@code 250000}, {@code 250k} or {@code 4m}. */
    static long parseCount(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        long unit = lower.endsWith("k") ? 1_000 : lower.endsWith("m") ? 1_000_000 : 1;
        String digits = unit == 1 ? lower : lower.substring(0, lower.length() - 1);
        try {
            long count = Math.multiplyExact(Long.parseLong(digits.replace("_", "")), unit);
            if (count <= 0) {
                throw new IllegalArgumentException("the number of records must be positive: " + text);
            }
            return count;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("not a number of records (such as 250000, 250k or 4m): " + text, e);
        }
    }
}
