import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const STATUSES = ['open', 'resolved'] as const;
export type Status = (typeof STATUSES)[number];

@Entity({ name: 'incident_events' })
// The list query filters by namespace (and optionally severity/status) and pages by newest first.
@Index('incident_events_namespace_created_idx', ['namespace', 'createdAt', 'id'])
@Index('incident_events_created_idx', ['createdAt', 'id'])
export class IncidentEvent {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 64 })
  namespace: string;

  @Column({ type: 'enum', enum: SEVERITIES, enumName: 'incident_severity' })
  severity: Severity;

  @Column({ type: 'enum', enum: STATUSES, enumName: 'incident_status', default: 'open' })
  status: Status;

  @Column({ type: 'varchar', length: 200 })
  title: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'resolved_at', type: 'timestamptz', nullable: true })
  resolvedAt: Date | null;
}
