package io.pagoda.examples.server;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The server showdown: each server variant ({@link Variant}) in a JVM of its own on 127.0.0.1,
 * warmed up and then loaded by {@code wrk} for a fixed time, with the same connections, heap and
 * event loops; then a markdown table of requests per second, latency percentiles, the server's
 * resident memory (now and at its peak) and its GC pauses during the measured run.
 *
 * <pre>
 * --duration        seconds measured per variant                       (10)
 * --warmup          seconds of load before, not measured               (3)
 * --connections     wrk's connections                                  (64)
 * --wrk-threads     wrk's threads                                      (2)
 * --server-threads  each server's event loops                          (processors)
 * --body            bytes of each response body                        (1024)
 * --heap            each server's -Xms and -Xmx (so its direct memory) (256m)
 * --variants        a comma-separated list, or all                     (all)
 * </pre>
 *
 * With the defaults it takes about 80 seconds: the README's main example.
 * Needs {@code wrk} on the PATH ({@code apt-get install wrk}) and Linux's /proc.
 */
public final class ServerShowdown {

    private ServerShowdown() {
    }

    /** One variant's figures. */
    private record Row(Variant variant, Wrk.Result load, ServerProcess.Memory memory, GcLog.Pauses pauses) {
    }

    public static void main(String[] args) {
        Options options = Options.parse(args, Map.of(
                "duration", "10",
                "warmup", "3",
                "connections", "64",
                "wrk-threads", "2",
                "server-threads", Integer.toString(Runtime.getRuntime().availableProcessors()),
                "body", "1024",
                "heap", "256m",
                "variants", "all"));
        Wrk wrk = Wrk.onPath(options.integer("wrk-threads", 1), options.integer("connections", 1));
        int duration = options.integer("duration", 1);
        int warmup = options.integer("warmup", 1);
        int body = options.integer("body", 0);
        int serverThreads = options.integer("server-threads", 1);
        String heap = options.string("heap");
        List<String> jvmOptions = List.of("-Xms" + heap, "-Xmx" + heap, "-XX:+UseG1GC");

        List<Row> rows = new ArrayList<>();
        for (Variant variant : variants(options.string("variants"))) {
            System.out.printf("%s: %d s warm-up, %d s measured%n", variant.label(), warmup, duration);
            try (ServerProcess server = ServerProcess.start(variant, jvmOptions, body, serverThreads)) {
                wrk.run(server.port(), warmup);
                long gcLogOffset = server.gcLog().size();
                Wrk.Result load = wrk.run(server.port(), duration);
                ServerProcess.Memory memory = server.memory();
                server.stop();
                rows.add(new Row(variant, load, memory, server.gcLog().pausesSince(gcLogOffset)));
            }
        }
        System.out.println();
        System.out.printf("%s per variant after %d s of warm-up; %d B bodies; servers: %s, %d event loops; %d processors%n",
                wrk.describe(duration), warmup, body, String.join(" ", jvmOptions), serverThreads,
                Runtime.getRuntime().availableProcessors());
        System.out.println();
        System.out.print(table(rows));
    }

    private static List<Variant> variants(String list) {
        return list.equals("all") ? List.of(Variant.values())
                : Arrays.stream(list.split(",")).map(String::strip).map(Variant::of).toList();
    }

    private static String table(List<Row> rows) {
        StringBuilder table = new StringBuilder("""
                | server | requests/s | p50 | p90 | p99 | RSS at end | peak RSS | GC pauses | GC pause time | errors |
                |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
                """);
        for (Row row : rows) {
            table.append(String.format(Locale.ROOT, "| %s | %,.0f | %s | %s | %s | %d MiB | %d MiB | %d | %.1f ms | %d |%n",
                    row.variant().label(), row.load().requestsPerSecond(),
                    millis(row.load().p50Micros()), millis(row.load().p90Micros()), millis(row.load().p99Micros()),
                    row.memory().residentKiB() >> 10, row.memory().peakResidentKiB() >> 10,
                    row.pauses().count(), row.pauses().totalMillis(), row.load().errors()));
        }
        return table.toString();
    }

    private static String millis(double micros) {
        return String.format(Locale.ROOT, "%.2f ms", micros / 1e3);
    }
}
