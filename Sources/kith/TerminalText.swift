extension String {
    /// The text with control characters (escape sequences among them) shown as `�`, so words a
    /// peer wrote cannot move the cursor, recolour or rewrite the person's terminal.
    var terminalSafe: String {
        String(String.UnicodeScalarView(unicodeScalars.map { scalar in
            scalar == "\n" || scalar == "\t" || !Self.isControl(scalar) ? scalar : "\u{FFFD}"
        }))
    }

    /// ``terminalSafe`` on one line: line breaks and tabs become spaces too, so peer-chosen text
    /// cannot start what looks like a line of its own.
    var terminalLine: String {
        String(String.UnicodeScalarView(unicodeScalars.map { scalar in
            scalar == "\n" || scalar == "\r" || scalar == "\t" ? " " : Self.isControl(scalar) ? "\u{FFFD}" : scalar
        }))
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || scalar.value == 0x7f
            // Line and paragraph separators, and the bidirectional overrides that reorder what is shown.
            || scalar.value == 0x2028 || scalar.value == 0x2029 || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }
}
