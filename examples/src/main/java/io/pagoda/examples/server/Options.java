package io.pagoda.examples.server;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Command-line options of the form {@code --name value}, each with a default. The arguments may
 * also come as one string (the {@code example} Maven profile passes {@code -Dexample.args} as a
 * single argument), so they are split on white space first.
 */
final class Options {

    private final Map<String, String> values;

    private Options(Map<String, String> values) {
        this.values = values;
    }

    /**
     * Parses {@code args} against {@code defaults}, which name every option there is.
     *
     * @throws IllegalArgumentException on an unknown option, or an option without a value
     */
    static Options parse(String[] args, Map<String, String> defaults) {
        Map<String, String> values = new LinkedHashMap<>(defaults);
        String joined = String.join(" ", args).strip();
        String[] words = joined.isEmpty() ? new String[0] : joined.split("\\s+");
        for (int i = 0; i < words.length; i += 2) {
            String name = words[i].startsWith("--") ? words[i].substring(2) : "";
            if (!defaults.containsKey(name)) {
                throw new IllegalArgumentException("unknown option '" + words[i] + "'; the options are "
                        + defaults.keySet().stream().sorted().map(option -> "--" + option).toList());
            }
            if (i + 1 == words.length) {
                throw new IllegalArgumentException("option '" + words[i] + "' needs a value");
            }
            values.put(name, words[i + 1]);
        }
        return new Options(values);
    }

    String string(String name) {
        String value = values.get(name);
        if (value == null) {
            throw new IllegalArgumentException("no option --" + name);
        }
        return value;
    }

    /**
     * The option as an integer of at least {@code min}.
     *
     * @throws IllegalArgumentException if it is not one
     */
    int integer(String name, int min) {
        String value = string(name);
        try {
            int number = Integer.parseInt(value);
            if (number >= min) {
                return number;
            }
        } catch (NumberFormatException notANumber) {
            // reported below, with the option's name
        }
        throw new IllegalArgumentException("--" + name + " must be an integer of at least " + min + ", not '" + value + "'");
    }
}
