/// The SQL of a periodic Inform's writes, for a device already registered over CWMP: what
/// ``SQLiteRegistryStore/recordInform(_:at:)`` runs on that path, one statement per row it reads or
/// writes. Public so that `tandem-bench` measures SQLite running exactly these statements (its
/// registry floor) without a copy that could drift from them.
public enum InformStatements {
    /// The device row behind a CWMP DeviceId, with what decides the update: binds the canonical
    /// DeviceId; reads id, cwmpDeviceId, protocols, activeProtocol, oui, productClass,
    /// serialNumber, softwareVersion, informNames (the digest of the last Inform's parameter names,
    /// ``InformRecord/parameterNamesDigest``), lastInformAt.
    public static let lookup = """
        SELECT d.id, d.cwmpDeviceId, d.protocols, d.activeProtocol, d.oui, d.productClass, d.serialNumber, d.softwareVersion,
            d.informNames, d.lastInformAt
        FROM deviceIdentifier i JOIN device d ON d.id = i.deviceId
        WHERE i.value = ?
        """

    /// The known device's update on an Inform: what the Inform reports, its protocols, its contact.
    /// Binds manufacturer, modelName, hardwareVersion, dataModelRoot, connectionRequestUrl,
    /// connection (each kept when NULL), protocols, activeProtocol, lastContact, lastInformAt,
    /// updatedAt, id.
    public static let deviceUpdate = "UPDATE device SET " + deviceUpdateColumns

    /// The same, when the identity or the software version (indexed columns) differ from the row's:
    /// binds oui, productClass, serialNumber and softwareVersion first.
    public static let deviceUpdateWithIdentity =
        "UPDATE device SET oui = ?, productClass = ?, serialNumber = ?, softwareVersion = COALESCE(?, softwareVersion), " + deviceUpdateColumns

    private static let deviceUpdateColumns = """
        manufacturer = COALESCE(?, manufacturer),
        modelName = COALESCE(?, modelName),
        hardwareVersion = COALESCE(?, hardwareVersion),
        dataModelRoot = COALESCE(?, dataModelRoot),
        connectionRequestUrl = COALESCE(?, connectionRequestUrl),
        connection = COALESCE(?, connection),
        protocols = ?, activeProtocol = ?, lastContact = ?, lastInformAt = ?, updatedAt = ?
        WHERE id = ?
        """

    /// A stored parameter's new value: binds value, type, writable (each kept when NULL),
    /// updatedAt, deviceId, path. Changes no row when the parameter is not stored yet.
    public static let parameterUpdate = parameterSet + parameterKey

    /// The same for a parameter an Inform reports: marks the row as reported in the device's
    /// Informs (`informed`), whose time is the device's `lastInformAt`.
    static let informedParameterUpdate = parameterSet + ", informed = 1" + parameterKey

    /// A periodic Inform's parameter, when the device's Informs carry the same names as last time
    /// (every row exists and is `informed`): written only when its value, type or writability
    /// differs, since the rows' reported time is the device's `lastInformAt` (a CPE's periodic
    /// Inform repeats most values: rewriting them all was about a third of the registry's work).
    /// The same bindings.
    public static let parameterRefresh = parameterSet + parameterKey
        + "\n    AND (value IS NOT COALESCE(?1, value) OR type IS NOT COALESCE(?2, type) OR writable IS NOT COALESCE(?3, writable))"

    /// The columns the three parameter updates set, numbered so that a condition can name the
    /// values again; every one binds value, type, writable, updatedAt, deviceId, path in order.
    private static let parameterSet = """
        UPDATE parameter SET
            value = COALESCE(?1, value), type = COALESCE(?2, type), writable = COALESCE(?3, writable), updatedAt = ?4
        """
    private static let parameterKey = "\nWHERE deviceId = ?5 AND path = ?6"

    /// An event log entry: binds deviceId, at, kind, summary, actor, detail.
    public static let eventInsert = "INSERT INTO event (deviceId, at, kind, summary, actor, detail) VALUES (?, ?, ?, ?, ?, ?)"
}
