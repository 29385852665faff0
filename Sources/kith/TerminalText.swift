extension String {
    /// The text with control characters (escape sequences among them) shown as `�`, so words a
    /// peer wrote cannot move the cursor, recolour or rewrite the person's terminal.
    var terminalSafe: String {
        String(String.UnicodeScalarView(unicodeScalars.map { scalar in
            scalar == "\n" || scalar == "\t" || !(scalar.properties.generalCategory == .control || scalar.value == 0x7f) ? scalar : "\u{FFFD}"
        }))
    }
}
