import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * What the position bus of one gateway receives: how many areas it follows
 * and how much it decodes. The decode cost of a gateway is
 * hexfleet_position_bus_bytes_received_total and _positions_received_total:
 * following fewer areas (HEXFLEET_MARKETS, or HEXFLEET_READ_INDEX=backend)
 * is how a gateway sheds it.
 */
export class PositionBusMetrics {
  readonly messages: Counter<'outcome'>;
  readonly positions: Counter;
  readonly bytes: Counter;

  constructor(registry: Registry, areas: () => number, all: () => number) {
    const registers = [registry];
    this.messages = new Counter({
      name: 'hexfleet_position_bus_messages_received_total',
      help: 'Position messages received from other gateways, by outcome: decoded (delivered), duplicate (heard twice while switching subscriptions: dropped), unreadable (dropped).',
      labelNames: ['outcome'],
      registers,
    });
    this.positions = new Counter({ name: 'hexfleet_position_bus_positions_received_total', help: 'Positions decoded from other gateways\' messages.', registers });
    this.bytes = new Counter({ name: 'hexfleet_position_bus_bytes_received_total', help: 'Bytes of position messages received from other gateways.', registers });
    new Gauge({ name: 'hexfleet_position_bus_areas_followed', help: 'Area channels this gateway subscribes to one by one (its read index\'s markets, its tracked drivers\' and boxes\' areas); 0 while it follows every area.', registers, collect() { this.set(areas()); } });
    new Gauge({ name: 'hexfleet_position_bus_all_areas', help: '1 while this gateway follows every area (one pattern subscription: a read index of every market), else 0.', registers, collect() { this.set(all()); } });
  }
}
