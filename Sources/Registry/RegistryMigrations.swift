import GRDB

/// The registry schema as named, append-only migrations. Never edit a migration that has shipped:
/// add a new one. Tests open a database left at an earlier migration and upgrade it.
enum RegistryMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()

        migrator.registerMigration("v1-devices-parameters") { db in
            try db.execute(sql: """
                CREATE TABLE device (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    cwmpDeviceId TEXT UNIQUE,
                    uspEndpointId TEXT UNIQUE,
                    manufacturer TEXT NOT NULL DEFAULT '',
                    oui TEXT NOT NULL DEFAULT '',
                    productClass TEXT NOT NULL DEFAULT '',
                    modelName TEXT NOT NULL DEFAULT '',
                    serialNumber TEXT NOT NULL DEFAULT '',
                    softwareVersion TEXT NOT NULL DEFAULT '',
                    hardwareVersion TEXT NOT NULL DEFAULT '',
                    protocols TEXT NOT NULL DEFAULT '',
                    activeProtocol TEXT CHECK (activeProtocol IN ('cwmp', 'usp')),
                    dataModelRoot TEXT NOT NULL DEFAULT '',
                    lastContact REAL,
                    connectionRequestUrl TEXT,
                    connection TEXT NOT NULL DEFAULT '{}',
                    createdAt REAL NOT NULL,
                    updatedAt REAL NOT NULL
                );
                CREATE INDEX device_oui_serial ON device(oui, serialNumber);

                -- Every name a device is known by (CWMP DeviceId, USP endpoint IDs, the os::/ops:: IDs
                -- derived from its CWMP identity), so that lookup by any of them is one index probe.
                CREATE TABLE deviceIdentifier (
                    value TEXT PRIMARY KEY,
                    deviceId INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL CHECK (kind IN ('cwmp', 'usp', 'derived'))
                ) WITHOUT ROWID;
                CREATE INDEX deviceIdentifier_device ON deviceIdentifier(deviceId);

                CREATE TABLE parameter (
                    deviceId INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
                    path TEXT NOT NULL,
                    value TEXT,
                    type TEXT,
                    writable INTEGER,
                    updatedAt REAL NOT NULL,
                    PRIMARY KEY (deviceId, path)
                ) WITHOUT ROWID;
                """)
        }

        migrator.registerMigration("v2-tasks-events-tags") { db in
            try db.execute(sql: """
                CREATE TABLE task (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    deviceId INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    operation TEXT NOT NULL,
                    state TEXT NOT NULL
                        CHECK (state IN ('queued', 'running', 'done', 'faulted', 'cancelled', 'expired')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    result TEXT,
                    fault TEXT,
                    createdAt REAL NOT NULL,
                    updatedAt REAL NOT NULL,
                    expiresAt REAL
                );
                CREATE INDEX task_device_state ON task(deviceId, state, id);

                -- Append-only: no foreign key action may rewrite it, and triggers refuse changes.
                CREATE TABLE event (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    deviceId INTEGER,
                    at REAL NOT NULL,
                    kind TEXT NOT NULL,
                    summary TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    detail TEXT NOT NULL DEFAULT '{}'
                );
                CREATE INDEX event_device ON event(deviceId, id);
                CREATE TRIGGER event_no_update BEFORE UPDATE ON event
                    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
                CREATE TRIGGER event_no_delete BEFORE DELETE ON event
                    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

                CREATE TABLE deviceTag (
                    deviceId INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
                    tag TEXT NOT NULL,
                    PRIMARY KEY (deviceId, tag)
                ) WITHOUT ROWID;
                CREATE INDEX deviceTag_tag ON deviceTag(tag);
                """)
        }

        migrator.registerMigration("v3-credentials") { db in
            try db.execute(sql: """
                -- Credentials per device: what the CPE presents to Tandem ('cpe') and what Tandem
                -- presents on Connection Requests ('connectionRequest'). Digest needs the password
                -- itself, so it is stored; the registry file is created readable by its owner only.
                CREATE TABLE deviceCredential (
                    deviceId INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
                    purpose TEXT NOT NULL CHECK (purpose IN ('cpe', 'connectionRequest')),
                    username TEXT NOT NULL,
                    password TEXT NOT NULL,
                    PRIMARY KEY (deviceId, purpose)
                ) WITHOUT ROWID;
                CREATE UNIQUE INDEX deviceCredential_cpe_username ON deviceCredential(username) WHERE purpose = 'cpe';
                """)
        }

        migrator.registerMigration("v4-api-tokens") { db in
            try db.execute(sql: """
                -- REST API bearer tokens. Only a SHA-256 hash of the secret is stored.
                CREATE TABLE apiToken (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'read-only')),
                    secretHash TEXT NOT NULL,
                    createdAt REAL NOT NULL,
                    revokedAt REAL
                );
                """)
        }

        migrator.registerMigration("v5-provisioning-migration") { db in
            try db.execute(sql: """
                -- Who queued a task ('token:NAME', 'policy:NAME', 'migration:NAME') and, when set,
                -- the only protocol that may run it (a migration's CWMP writes, its USP checks).
                ALTER TABLE task ADD COLUMN origin TEXT;
                ALTER TABLE task ADD COLUMN protocol TEXT CHECK (protocol IN ('cwmp', 'usp'));

                -- Every policy file applied, newest last; the newest is in force.
                CREATE TABLE policyDocument (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    fileName TEXT NOT NULL,
                    text TEXT NOT NULL,
                    appliedAt REAL NOT NULL,
                    actor TEXT NOT NULL
                );

                -- Where each device stands with each policy that selects it.
                CREATE TABLE policyStatus (
                    deviceId INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
                    policy TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('converged', 'pending', 'faulted', 'unsettled')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    lastFault TEXT,
                    nextAttemptAt REAL,
                    updatedAt REAL NOT NULL,
                    PRIMARY KEY (deviceId, policy)
                ) WITHOUT ROWID;
                CREATE INDEX policyStatus_policy_state ON policyStatus(policy, state);

                CREATE TABLE migration (
                    name TEXT PRIMARY KEY,
                    status TEXT NOT NULL CHECK (status IN ('running', 'paused', 'rolling-back')),
                    reason TEXT,
                    updatedAt REAL NOT NULL
                ) WITHOUT ROWID;

                -- One row per device a migration has started; the event log keeps the history.
                CREATE TABLE migrationDevice (
                    migration TEXT NOT NULL,
                    deviceId INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
                    state TEXT NOT NULL
                        CHECK (state IN ('cwmp', 'enabling', 'verifying', 'usp', 'rolling-back', 'rolled-back', 'failed')),
                    wave INTEGER NOT NULL,
                    step INTEGER NOT NULL DEFAULT 0,
                    taskId INTEGER,
                    template TEXT NOT NULL DEFAULT '',
                    endpointId TEXT NOT NULL DEFAULT '',
                    bindings TEXT NOT NULL DEFAULT '{}',
                    created TEXT NOT NULL DEFAULT '[]',
                    restore TEXT NOT NULL DEFAULT '[]',
                    startedAt REAL NOT NULL,
                    deadline REAL,
                    reason TEXT,
                    updatedAt REAL NOT NULL,
                    PRIMARY KEY (migration, deviceId)
                ) WITHOUT ROWID;
                CREATE INDEX migrationDevice_state ON migrationDevice(migration, state);
                CREATE INDEX migrationDevice_device ON migrationDevice(deviceId);
                """)
        }

        // Selections by product class and software version (a policy's or an operator's "every
        // BenchGateway on 1.0.0", `tandem devices --filter`) read this index instead of scanning
        // the device table: 1,000,000 rows took 0.3 s warm and over 1 s cold without it.
        migrator.registerMigration("v6-device-selection-index") { db in
            try db.execute(sql: "CREATE INDEX device_productClass_softwareVersion ON device(productClass, softwareVersion)")
        }

        // A periodic Inform rewrote every parameter row only to move its time. Now the rows an
        // Inform reports are marked (`informed`), their time is the device's last Inform
        // (`lastInformAt`) unless written later, and the digest of that Inform's parameter names
        // (`informNames`) tells whether the next one reports the same rows: then only changed
        // values are written.
        migrator.registerMigration("v7-inform-parameter-times") { db in
            try db.execute(sql: """
                ALTER TABLE device ADD COLUMN lastInformAt REAL;
                ALTER TABLE device ADD COLUMN informNames INTEGER;
                ALTER TABLE parameter ADD COLUMN informed INTEGER NOT NULL DEFAULT 0;
                """)
        }

        return migrator
    }
}
