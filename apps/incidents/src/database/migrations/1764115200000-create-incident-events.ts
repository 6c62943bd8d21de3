import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateIncidentEvents1764115200000 implements MigrationInterface {
  name = 'CreateIncidentEvents1764115200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TYPE "incident_severity" AS ENUM ('critical', 'high', 'medium', 'low')`);
    await queryRunner.query(`CREATE TYPE "incident_status" AS ENUM ('open', 'resolved')`);
    await queryRunner.query(`
      CREATE TABLE "incident_events" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "namespace" varchar(64) NOT NULL,
        "severity" "incident_severity" NOT NULL,
        "status" "incident_status" NOT NULL DEFAULT 'open',
        "title" varchar(200) NOT NULL,
        "description" text,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "resolved_at" timestamptz,
        CONSTRAINT "incident_events_pkey" PRIMARY KEY ("id")
      )`);
    await queryRunner.query(`CREATE INDEX "incident_events_namespace_created_idx" ON "incident_events" ("namespace", "created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "incident_events_created_idx" ON "incident_events" ("created_at", "id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "incident_events"`);
    await queryRunner.query(`DROP TYPE "incident_status"`);
    await queryRunner.query(`DROP TYPE "incident_severity"`);
  }
}
