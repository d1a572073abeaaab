-- Master data pushed by the clinic system, keyed by its legacy ids (LID). Nothing is ever
-- deleted: a full sync marks what it no longer sees as inactive, so history keeps its references.
CREATE TABLE centers (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    lid VARCHAR(50) NOT NULL UNIQUE,
    name VARCHAR(200) NOT NULL,
    description TEXT NULL,
    address VARCHAR(500) NULL,
    phone VARCHAR(50) NULL,
    website_url VARCHAR(500) NULL,
    timezone VARCHAR(64) NOT NULL,
    active BOOLEAN NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE insurances (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    lid VARCHAR(50) NOT NULL UNIQUE,
    name VARCHAR(200) NOT NULL,
    active BOOLEAN NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE activity_groups (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    lid VARCHAR(50) NOT NULL UNIQUE,
    name VARCHAR(200) NOT NULL,
    active BOOLEAN NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE activities (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    lid VARCHAR(50) NOT NULL UNIQUE,
    name VARCHAR(200) NOT NULL,
    group_id VARCHAR(36) NULL REFERENCES activity_groups (id),
    duration_minutes INTEGER NOT NULL,
    price_cents BIGINT NULL,
    active BOOLEAN NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE resources (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    lid VARCHAR(50) NOT NULL UNIQUE,
    first_name VARCHAR(200) NOT NULL,
    second_name VARCHAR(200) NULL,
    web_enabled BOOLEAN NOT NULL,
    availabilities_step INTEGER NULL,
    active BOOLEAN NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE resource_centers (
    resource_id VARCHAR(36) NOT NULL REFERENCES resources (id),
    center_id VARCHAR(36) NOT NULL REFERENCES centers (id),
    active BOOLEAN NOT NULL,
    PRIMARY KEY (resource_id, center_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE resource_activities (
    resource_id VARCHAR(36) NOT NULL REFERENCES resources (id),
    activity_id VARCHAR(36) NOT NULL REFERENCES activities (id),
    duration_minutes INTEGER NULL,
    price_cents BIGINT NULL,
    active BOOLEAN NOT NULL,
    PRIMARY KEY (resource_id, activity_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE insurance_activities (
    insurance_id VARCHAR(36) NOT NULL REFERENCES insurances (id),
    activity_id VARCHAR(36) NOT NULL REFERENCES activities (id),
    price_cents BIGINT NULL,
    active BOOLEAN NOT NULL,
    PRIMARY KEY (insurance_id, activity_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE insurance_resources (
    insurance_id VARCHAR(36) NOT NULL REFERENCES insurances (id),
    resource_id VARCHAR(36) NOT NULL REFERENCES resources (id),
    active BOOLEAN NOT NULL,
    PRIMARY KEY (insurance_id, resource_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE availabilities (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    lid VARCHAR(50) NOT NULL UNIQUE,
    resource_id VARCHAR(36) NOT NULL REFERENCES resources (id),
    center_id VARCHAR(36) NOT NULL REFERENCES centers (id),
    working_day INTEGER NULL,
    start_minute INTEGER NOT NULL,
    end_minute INTEGER NOT NULL,
    start_day DATE NULL,
    end_day DATE NULL,
    active BOOLEAN NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    INDEX availabilities_resource (resource_id, active)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE availability_activities (
    availability_id VARCHAR(36) NOT NULL REFERENCES availabilities (id),
    activity_id VARCHAR(36) NOT NULL REFERENCES activities (id),
    PRIMARY KEY (availability_id, activity_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
