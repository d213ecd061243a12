/// The SQL of a periodic Inform's writes, for a device already registered over CWMP: what
/// ``SQLiteRegistryStore/recordInform(_:at:)`` runs on that path, one statement per row it reads or
/// writes. Public so that `tandem-bench` measures SQLite running exactly these statements (its
/// registry floor) without a copy that could drift from them.
public enum InformStatements {
    /// The device row behind a CWMP DeviceId, with what decides the update: binds the canonical
    /// DeviceId; reads id, cwmpDeviceId, protocols, activeProtocol, oui, productClass,
    /// serialNumber, softwareVersion.
    public static let lookup = """
        SELECT d.id, d.cwmpDeviceId, d.protocols, d.activeProtocol, d.oui, d.productClass, d.serialNumber, d.softwareVersion
        FROM deviceIdentifier i JOIN device d ON d.id = i.deviceId
        WHERE i.value = ?
        """

    /// The known device's update on an Inform: what the Inform reports, its protocols, its contact.
    /// Binds manufacturer, modelName, hardwareVersion, dataModelRoot, connectionRequestUrl,
    /// connection (each kept when NULL), protocols, activeProtocol, lastContact, updatedAt, id.
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
        protocols = ?, activeProtocol = ?, lastContact = ?, updatedAt = ?
        WHERE id = ?
        """

    /// A stored parameter's new value: binds value, type, writable (each kept when NULL),
    /// updatedAt, deviceId, path. Changes no row when the parameter is not stored yet.
    public static let parameterUpdate = """
        UPDATE parameter SET
            value = COALESCE(?, value), type = COALESCE(?, type), writable = COALESCE(?, writable), updatedAt = ?
        WHERE deviceId = ? AND path = ?
        """

    /// An event log entry: binds deviceId, at, kind, summary, actor, detail.
    public static let eventInsert = "INSERT INTO event (deviceId, at, kind, summary, actor, detail) VALUES (?, ?, ?, ?, ?, ?)"
}
