import type { HealthCheck } from '@confab/protocol';
import type { FastifyInstance } from 'fastify';

export function registerHealth(
  app: FastifyInstance,
  state: { version: string; startedAt: number; shuttingDown: () => boolean },
) {
  app.get('/health-check', (_req, reply) => {
    const body: HealthCheck = {
      status: state.shuttingDown() ? 'shutting_down' : 'ok',
      version: state.version,
      uptime: Math.round((performance.now() - state.startedAt) / 10) / 100,
    };
    return reply
      .code(state.shuttingDown() ? 503 : 200)
      .header('Cache-Control', 'no-store')
      .send(body);
  });
}
