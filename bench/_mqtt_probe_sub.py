"""Baseline subscriber in its own process: prints `RECEIVED_AT PAYLOAD` for each probe message.
Usage: _mqtt_probe_sub.py PORT TOPIC"""
import sys
import time

import paho.mqtt.client as paho

port, topic = int(sys.argv[1]), sys.argv[2]
client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-probe-sub", protocol=paho.MQTTv5)


def on_connect(c, userdata, flags, reason, props):
    c.subscribe(topic, qos=1)


def on_subscribe(c, userdata, mid, reasons, props):
    print("ready", flush=True)


def on_message(c, userdata, msg):
    print(f"{time.time():.6f} {msg.payload.decode()}", flush=True)


client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
client.connect("127.0.0.1", port)
client.loop_forever()
