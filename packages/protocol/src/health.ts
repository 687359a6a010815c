import { z } from 'zod';

export const healthCheckSchema = z.object({
  status: z.enum(['ok', 'shutting_down']),
  version: z.string(),
  uptime: z.number().nonnegative(),
});

export type HealthCheck = z.infer<typeof healthCheckSchema>;
