package io.pagoda.examples.server;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The {@code wrk} HTTP load generator, run for a bounded time against a loopback port, and its
 * report read back: requests per second, the latency percentiles of {@code --latency}, errors.
 */
final class Wrk {

    /** wrk stops by itself after its duration; this is how long past that it may take to report. */
    private static final long GRACE_SECONDS = 30;

    private static final Pattern REQUESTS_PER_SECOND = Pattern.compile("(?m)^Requests/sec:\\s+([\\d.]+)");
    private static final Pattern PERCENTILE = Pattern.compile("(?m)^\\s+(\\d+)%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$");
    private static final Pattern SOCKET_ERRORS =
            Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");
    private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");

    /** What one run measured; latencies in microseconds. */
    record Result(double requestsPerSecond, double p50Micros, double p90Micros, double p99Micros, long errors) {
    }

    private final Path executable;
    private final int threads;
    private final int connections;

    private Wrk(Path executable, int threads, int connections) {
        this.executable = executable;
        this.threads = threads;
        this.connections = connections;
    }

    /**
     * wrk from the {@code PATH}, to run with that many threads and connections.
     *
     * @throws IllegalStateException if there is no wrk on the {@code PATH}
     */
    static Wrk onPath(int threads, int connections) {
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.of(path.split(File.pathSeparator))
                .filter(directory -> !directory.isEmpty())
                .map(directory -> Path.of(directory, "wrk"))
                .filter(Files::isExecutable)
                .findFirst()
                .map(executable -> new Wrk(executable, threads, connections))
                .orElseThrow(() -> new IllegalStateException(
                        "wrk, the HTTP load generator, is not on the PATH; install it: apt-get install wrk"));
    }

    /** The command line, for the report. */
    String describe(int seconds) {
        return "wrk --latency -t" + threads + " -c" + connections + " -d" + seconds + "s";
    }

    /**
     * Loads {@code http://127.0.0.1:port/} for {@code seconds} and reads the report.
     *
     * @throws IllegalStateException if wrk fails, overruns its time, or reports nothing readable
     */
    Result run(int port, int seconds) {
        List<String> command = new ArrayList<>(List.of(executable.toString(), "--latency",
                "-t" + threads, "-c" + connections, "-d" + seconds + "s", "http://127.0.0.1:" + port + "/"));
        try {
            Process wrk = new ProcessBuilder(command).redirectErrorStream(true).start();
            try {
                wrk.getOutputStream().close();
                if (!wrk.waitFor(seconds + GRACE_SECONDS, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("wrk did not finish within " + (seconds + GRACE_SECONDS) + " s");
                }
                String report = new String(wrk.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (wrk.exitValue() != 0) {
                    throw new IllegalStateException("wrk exited with " + wrk.exitValue() + ":\n" + report);
                }
                return parse(report);
            } finally {
                wrk.destroyForcibly();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while wrk ran", e);
        }
    }

    /**
     * Reads a report of {@code wrk --latency}.
     *
     * @throws IllegalStateException if it lacks the requests per second or a percentile
     */
    static Result parse(String report) {
        Matcher throughput = REQUESTS_PER_SECOND.matcher(report);
        if (!throughput.find()) {
            throw new IllegalStateException("no Requests/sec in wrk's report:\n" + report);
        }
        return new Result(Double.parseDouble(throughput.group(1)),
                percentile(report, 50), percentile(report, 90), percentile(report, 99), errors(report));
    }

    private static double percentile(String report, int percent) {
        Matcher line = PERCENTILE.matcher(report);
        while (line.find()) {
            if (Integer.parseInt(line.group(1)) == percent) {
                double value = Double.parseDouble(line.group(2));
                return switch (line.group(3)) {
                    case "us" -> value;
                    case "ms" -> value * 1e3;
                    case "s" -> value * 1e6;
                    case "m" -> value * 60e6;
                    default -> value * 3600e6;
                };
            }
        }
        throw new IllegalStateException("no " + percent + "% latency in wrk's report (was --latency given?):\n" + report);
    }

    /** Socket errors of every kind, and responses that were not 2xx or 3xx. */
    private static long errors(String report) {
        long errors = 0;
        Matcher socket = SOCKET_ERRORS.matcher(report);
        if (socket.find()) {
            for (int group = 1; group <= socket.groupCount(); group++) {
                errors += Long.parseLong(socket.group(group));
            }
        }
        Matcher status = NON_2XX.matcher(report);
        if (status.find()) {
            errors += Long.parseLong(status.group(1));
        }
        return errors;
    }
}
