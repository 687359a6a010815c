/**
 * Who does what in a synthetic meeting: W-meet-20 is 20 participants who all publish a camera
 * and a microphone, two of them talking; the audio room is 4 talking microphones and 250
 * listeners; the 100-person room has a few publishers and many who joined with camera and
 * microphone off.
 */
export interface Shape {
  participants: number;
  /** Participants 0 … publishers-1 publish; the others publish nothing (camera and mic off). */
  publishers: number;
  /** Publishers 0 … talkers-1 talk (audio level 25-45); the others send silence marked 127. */
  talkers: number;
  /** Publishers 0 … cameras-1 send the three camera layers as well as the microphone. */
  cameras: number;
  /** Participants 0 … sampled-1 measure loss and latency; the others only count packets. */
  sampled: number;
}

export function meetingShape(participants: number, sampled = 20): Shape {
  return {
    participants,
    publishers: participants,
    talkers: 2,
    cameras: participants,
    sampled: Math.min(participants, sampled),
  };
}

/**
 * What participant `i` does: whether it publishes (and a camera), talks, is sampled, and whose
 * camera it puts on stage.
 */
export function role(shape: Shape, i: number) {
  const cameras = Math.min(shape.cameras, shape.publishers);
  return {
    publishes: i < shape.publishers,
    camera: i < cameras,
    talking: i < shape.talkers,
    sampled: i < shape.sampled,
    /** The next camera in the ring (others: camera `i mod cameras`); -1: no cameras. */
    stage: cameras > 0 ? (i < cameras ? (i + 1) % cameras : i % cameras) : -1,
  };
}

/** Streams a participant can receive: the other publishers' microphones and cameras. */
export function streamsFor(shape: Shape, i: number): { audio: number; video: number } {
  const r = role(shape, i);
  const cameras = Math.min(shape.cameras, shape.publishers);
  return {
    audio: shape.publishers - (r.publishes ? 1 : 0),
    video: cameras - (r.camera ? 1 : 0),
  };
}
